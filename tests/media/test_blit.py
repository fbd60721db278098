"""alpha_blit: clear pixels stay as they were, opaque ones take the stamp's colour, and
partly covered ones are the alpha blend to within one level; clipped at the edges."""

from __future__ import annotations

import numpy as np

from reelgraph.nodes.typography import Stamp, alpha_blit


def _case():
    rng = np.random.default_rng(7)
    frames = rng.integers(0, 256, (3, 60, 80, 3), dtype=np.uint8)
    rgba = rng.integers(0, 256, (20, 30, 4), dtype=np.uint8)
    rgba[:5, :, 3] = 0  # clear rows
    rgba[5:10, :, 3] = 255  # opaque rows
    return frames, rgba


def test_blend_levels():
    frames, rgba = _case()
    out = alpha_blit(frames.copy(), Stamp(rgba), 10, 20)
    region, before = out[:, 20:40, 10:40], frames[:, 20:40, 10:40]
    assert np.array_equal(out[:, :20], frames[:, :20])  # outside the stamp
    assert np.array_equal(region[:, :5], before[:, :5])  # clear
    assert np.array_equal(region[:, 5:10], np.broadcast_to(rgba[5:10, :, :3], (3, 5, 30, 3)))
    a = rgba[..., 3:4] / 255.0
    want = np.floor(before * (1 - a) + rgba[..., :3] * a + 0.5)
    assert np.abs(region.astype(int) - want).max() <= 1


def test_opacity_and_clipping():
    frames, rgba = _case()
    half = alpha_blit(frames.copy(), rgba, -12, 50, opacity=0.5)  # off the left and bottom
    assert np.array_equal(half[:, :50], frames[:, :50])
    a = rgba[:10, 12:, 3:4] / 255.0 * 0.5
    want = np.floor(frames[:, 50:60, :18] * (1 - a) + rgba[:10, 12:, :3] * a + 0.5)
    assert np.abs(half[:, 50:60, :18].astype(int) - want).max() <= 1
    untouched = alpha_blit(frames.copy(), rgba, 200, 200)
    assert np.array_equal(untouched, frames)
