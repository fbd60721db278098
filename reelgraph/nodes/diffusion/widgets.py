"""Widget types shared by the generative nodes' inputs."""

from __future__ import annotations

from typing import Annotated

from reelgraph import Combo, Float, Int, Text
from reelgraph import models as M

from .loading import OFFLOAD
from .schedulers import SCHEDULERS

Size = Annotated[int, Int(0, 4096, 8)]
Steps = Annotated[int, Int(1, 500)]
Guidance = Annotated[float, Float(0.0, 50.0, 0.1)]
Prompt = Annotated[str, Text(multiline=True, placeholder="a lighthouse at dusk, cinematic")]
Negative = Annotated[str, Text(multiline=True, placeholder="blurry, low quality")]
Scheduler = Annotated[str, Combo(SCHEDULERS)]
Device = Annotated[str, Combo(M.DEVICES)]
DType = Annotated[str, Combo(M.DTYPES)]
Offload = Annotated[str, Combo(OFFLOAD)]
Frames = Annotated[int, Int(1, 1025)]
FPS = Annotated[float, Float(0.0, 120.0, 1.0)]
