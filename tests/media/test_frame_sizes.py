"""Every even frame height encodes without a band of wrong colour: H = 270 and 1350
(the feed preset) have an odd chroma height, which PyAV's zero-copy wrapper lays out
wrongly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reelgraph.engine.media.encoder import encode_video
from reelgraph.engine.media.video import ProceduralVideo

COLOUR = np.array([47, 35, 65], np.uint8)


@pytest.mark.parametrize("size", [(480, 270), (480, 272), (1080, 1350), (320, 180)])
def test_a_flat_frame_comes_back_flat_at_every_even_height(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    import av

    w, h = size

    def render(a: int, b: int) -> np.ndarray:
        return np.broadcast_to(COLOUR, (b - a, h, w, 3)).copy()

    video = ProceduralVideo(render, fps=12, width=w, height=h, frame_count=3, key=b"flat")
    path = encode_video(video, tmp_path / "flat.mp4", crf=18).path
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    assert frame.shape == (h, w, 3)
    # x264 at CRF 18 keeps a flat colour within a few levels everywhere, top rows too
    assert np.abs(frame - COLOUR.astype(int)).max() <= 4, (
        f"rows 0-7 {frame[:8, w // 2].tolist()} against {COLOUR.tolist()}"
    )
