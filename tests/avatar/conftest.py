"""Shared fixtures: one Piper narration and one small presenter render for many tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

TEXT = (
    "Maybe the people in Boston will probably buy some more bread. "
    "Five views of food, please! My brother, Bob, baked a pie for my mum."
)


@dataclass
class Speech:
    audio: Any
    timings: Any


@pytest.fixture(scope="session")
def speech() -> Speech:
    from reelgraph.nodes.tts import speak_piper

    audio, timings = speak_piper(TEXT, "en_US-joe-medium", 1.0, True, 0.35)
    return Speech(audio, timings)


@dataclass
class Render:
    video: Any  # PresenterVideo
    frames: Any  # uint8 numpy [T, H, W, 3]
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 around the mouth (with head-motion margin)


def mouth_box(width: int, height: int) -> tuple[int, int, int, int]:
    u = 0.36 * height
    cx, cy = width / 2, height * 0.42
    return int(cx - 0.4 * u), int(cy + 0.12 * u), int(cx + 0.4 * u), int(cy + 0.62 * u)


@pytest.fixture(scope="session")
def render(speech) -> Render:
    import numpy as np

    from reelgraph.nodes.avatar import presenter

    v = presenter(
        speech.audio, speech.timings, character="sam", width=320, height=180, fps=24.0, seed=5
    )
    frames = np.concatenate([c.numpy() for c in v.chunks(32)])
    return Render(v, frames, mouth_box(320, 180))


def interior_pixels(frames: Any, box: tuple[int, int, int, int], tol: float = 48.0) -> Any:
    """How many pixels of each frame have the colour of the inside of the mouth."""
    import numpy as np

    from reelgraph.nodes.avatar_draw import MOUTH_INSIDE

    x0, y0, x1, y1 = box
    roi = frames[:, y0:y1, x0:x1].astype(np.float32)
    d = np.sqrt(((roi - np.array(MOUTH_INSIDE, np.float32)) ** 2).sum(axis=-1))
    return (d < tol).sum(axis=(1, 2))


def opening_pixels(frames: Any, box: tuple[int, int, int, int]) -> Any:
    """Pixels of the open mouth: its dark inside plus the teeth showing in it."""
    import numpy as np

    from reelgraph.nodes.avatar_draw import TEETH

    x0, y0, x1, y1 = box
    roi = frames[:, y0:y1, x0:x1].astype(np.float32)
    teeth = (np.sqrt(((roi - np.array(TEETH, np.float32)) ** 2).sum(axis=-1)) < 40).sum(axis=(1, 2))
    return interior_pixels(frames, box) + teeth


def opening_height(frames: Any, box: tuple[int, int, int, int]) -> Any:
    """Height in pixel rows of the open mouth (inside or teeth) in each frame."""
    import numpy as np

    from reelgraph.nodes.avatar_draw import MOUTH_INSIDE, TEETH

    x0, y0, x1, y1 = box
    roi = frames[:, y0:y1, x0:x1].astype(np.float32)
    near = [
        np.sqrt(((roi - np.array(c, np.float32)) ** 2).sum(axis=-1)) < tol
        for c, tol in ((MOUTH_INSIDE, 48.0), (TEETH, 40.0))
    ]
    return (near[0] | near[1]).any(axis=2).sum(axis=1)
