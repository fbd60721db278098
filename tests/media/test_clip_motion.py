"""`video.ImageToClip`'s `vary`: the motion comes from what the clip shows (its image,
size, length and settings), not from the node's seed, which covers the code of every
node upstream (an edit to the voice's code used to flip every card's motion)."""

from __future__ import annotations

import numpy as np
import torch

from reelgraph.nodes.video import image_to_clip


def card(seed: int) -> torch.Tensor:
    """A 1-image batch with enough detail that its motion shows in the frames."""
    g = np.random.default_rng(seed)
    base = torch.from_numpy(g.random((1, 3, 6, 8)).astype(np.float32))
    img = torch.nn.functional.interpolate(base, size=(72, 128), mode="bilinear")
    return img.permute(0, 2, 3, 1).contiguous()


def clip(image: torch.Tensor, **kw):
    return image_to_clip(image, duration=1.0, fps=12.0, zoom_end=1.2, pan_x=0.3, **kw)


def frames(video) -> np.ndarray:
    return np.asarray(video.render_array(0, video.frame_count))


def test_the_same_clip_moves_the_same_way_with_no_seed_given():
    a, b = clip(card(1), vary=True), clip(card(1), vary=True)
    assert np.array_equal(frames(a), frames(b))


def test_vary_picks_the_motion_per_image():
    cards = [card(s) for s in range(10)]
    plain = [frames(clip(c)) for c in cards]
    varied = [frames(clip(c, vary=True)) for c in cards]
    moved_otherwise = [not np.array_equal(p, v) for p, v in zip(plain, varied, strict=True)]
    assert sum(moved_otherwise) >= 5  # most cards move otherwise than the settings say
    # and not all in one way: zooming in, the first frame is the widest view; zooming out,
    # the last. The cards differ, so compare how each clip's first frame sits in its own.
    zoom_in = [
        float(np.abs(v[0].astype(int) - p[0].astype(int)).mean()) < 1.0
        for p, v in zip(plain, varied, strict=True)
    ]
    assert 0 < sum(zoom_in) < len(cards)
