"""The AI label and burned subtitles keep out of the platform UI on vertical video."""

from __future__ import annotations

import numpy as np
import torch

from reelgraph.media import Cue, TensorVideo
from reelgraph.nodes.formats import default_safe_area
from reelgraph.nodes.provenance import ai_label
from reelgraph.nodes.subtitles import burn


def _ink(frame: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(frame.max(axis=-1) > 40)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def _black(w: int, h: int) -> TensorVideo:
    return TensorVideo(torch.zeros(2, h, w, 3, dtype=torch.uint8), 10.0)


def test_label_stays_inside_the_vertical_safe_area_in_every_corner():
    w, h = 360, 640
    area = default_safe_area(w, h)
    for pos in ("top_left", "top_right", "bottom_left", "bottom_right"):
        frame = ai_label(_black(w, h), position=pos).frame(0).numpy()
        x0, y0, x1, y1 = _ink(frame)
        assert x0 >= area["x0"] and x1 < area["x1"], pos
        assert y0 >= area["y0"] and y1 < area["y1"], pos


def test_label_on_landscape_keeps_its_corner_margin():
    frame = ai_label(_black(640, 360), position="top_right").frame(0).numpy()
    _, y0, x1, _ = _ink(frame)
    assert 640 - x1 <= 0.07 * 360 and y0 <= 0.07 * 360  # the corner, not a safe area inset


def test_burned_subtitles_sit_above_the_description_band_on_vertical_video():
    w, h = 360, 640
    area = default_safe_area(w, h)
    cues = [Cue(0.0, 1.0, "A caption that is long enough to wrap")]
    frame = burn(_black(w, h), cues, size=0.04).frame(0).numpy()
    x0, _, x1, y1 = _ink(frame)
    assert y1 < area["y1"]  # not under the description / sound ticker
    assert area["x0"] <= x0 and x1 < area["x1"]  # nor under the like/comment column
    # landscape keeps the usual bottom margin
    frame = burn(_black(640, 360), cues, size=0.05).frame(0).numpy()
    assert _ink(frame)[3] > 360 * 0.85
