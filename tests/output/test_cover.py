"""video.Cover: a PNG cover next to the MP4, the best frame or a chosen one, with the title."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reelgraph.engine import Cache, Engine, MemoryCache, Registry, WorkflowError
from reelgraph.media import WORKFLOW_KEY
from reelgraph.nodes.png import read_png_text
from tests.media.helpers import link, workflow


@pytest.fixture(scope="module")
def engine():
    return Engine(Registry.discover(), Cache(MemoryCache(1 << 28)))


def cover_workflow(**cover_inputs):
    return workflow(
        {
            "card": (
                "slides.TitleCard",
                {"title": "Quarterly report", "width": 320, "height": 180},
            ),
            "clip": (
                "video.ImageToClip",
                {"image": link("card", "image"), "duration": 3.0, "fps": 10, "tail": 0.0},
            ),
            # A long fade from black: the first frames make a poor cover.
            "fade": ("video.Fade", {"video": link("clip", "video"), "fade_in": 1.0}),
            "cover": ("video.Cover", {"video": link("fade", "video"), **cover_inputs}),
        }
    )


def read_cover(path):
    from PIL import Image as PILImage

    return np.asarray(PILImage.open(path).convert("RGB"))


def test_best_frame_skips_the_fade_and_the_png_carries_the_workflow(engine, tmp_path):
    res = engine.run(cover_workflow(filename="promo"), out_dir=tmp_path)
    assert res.status == "finished", res.failed
    path = tmp_path / "promo.png"
    assert res.outputs["cover"]["path"] == str(path)
    best = read_cover(path)
    assert best.shape == (180, 320, 3)
    assert best.mean() > 40  # not a frame from the fade-in
    meta = read_png_text(path.read_bytes())
    doc = json.loads(meta[WORKFLOW_KEY])
    assert doc["nodes"]["cover"]["type"] == "video.Cover"
    assert not list(tmp_path.glob(".*.tmp"))


def test_chosen_frame_and_title(engine, tmp_path):
    res = engine.run(cover_workflow(at_seconds=0.0, filename="first"), out_dir=tmp_path)
    assert res.status == "finished", res.failed
    first = read_cover(tmp_path / "first.png")
    assert first.mean() < 5  # frame 0 of a fade from black

    res = engine.run(
        cover_workflow(at_seconds=2.0, title="Open me", filename="plain"), out_dir=tmp_path
    )
    titled = read_cover(tmp_path / "plain.png")
    res = engine.run(cover_workflow(at_seconds=2.0, filename="bare"), out_dir=tmp_path)
    bare = read_cover(tmp_path / "bare.png")
    lower = slice(110, 180)
    # The title is drawn white over a darkening scrim in the lower part of the frame.
    assert np.abs(titled[lower].astype(int) - bare[lower]).mean() > 10
    assert (titled[lower] > 240).all(axis=2).sum() > 50
    assert np.array_equal(titled[:60], bare[:60])


def test_time_past_the_end_and_bad_name_are_clear_errors(engine, tmp_path):
    res = engine.run(cover_workflow(at_seconds=60.0), out_dir=tmp_path)
    assert res.status == "failed"
    assert "past the end" in res.failed["cover"].message
    with pytest.raises(WorkflowError) as err:
        engine.run(cover_workflow(filename="../up"), out_dir=tmp_path)
    assert "filename" in str(err.value)


def test_max_width_scales_down(engine, tmp_path):
    res = engine.run(cover_workflow(max_width=160, filename="small"), out_dir=tmp_path)
    assert res.status == "finished", res.failed
    assert read_cover(tmp_path / "small.png").shape == (90, 160, 3)
