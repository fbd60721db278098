"""The three shipped social workflows run offline as shipped (at a small custom size to
stay fast) and give what they promise: a vertical short under a minute with word
captions timed like its SRT and -14 LUFS, a personalised branded ad, and a lesson
with a presenter at -16 LUFS."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from .conftest import WORKFLOWS

pytestmark = pytest.mark.slow


def _probe(path):
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        n = sum(1 for p in c.demux(v) if p.size)
        return (
            v.codec_context.width,
            v.codec_context.height,
            n / float(v.average_rate),
            [s.codec_context.name for s in c.streams.subtitles],
        )


def _lufs(path):
    import pyloudnorm

    from reelgraph.media import decode_audio

    a = decode_audio(str(path))
    return pyloudnorm.Meter(a.sample_rate).integrated_loudness(
        a.samples.numpy().T.astype(np.float64)
    )


@pytest.mark.parametrize("name", ["short", "ad", "lesson"])
def test_shipped_params_have_labels_and_descriptions(name):
    doc = json.loads((WORKFLOWS / f"{name}.json").read_text())
    assert doc["params"]
    for p in doc["params"].values():
        assert p["label"] and p["description"]


def test_short_is_vertical_under_a_minute_with_captions_music_and_social_loudness(rendered):
    from reelgraph.nodes.subtitles import parse_srt

    res, _ = rendered("short")
    assert res.status == "finished", res.failed
    mp4 = Path(res.outputs["encode"]["path"])
    w, h, seconds, subs = _probe(mp4)
    assert (w, h) == (360, 640) and 10 < seconds < 60 and subs == ["mov_text"]
    assert Path(res.outputs["cover"]["path"]).with_suffix(".mp4") == mp4  # cover beside the MP4
    cues = parse_srt(Path(res.outputs["srt"]["path"]).read_text())
    pages = res.outputs["captions"]["captions"]
    assert [(round(c.start, 3), round(c.end, 3)) for c in cues] == [
        (p["start"], p["end"]) for p in pages
    ]
    assert all(len(p["words"]) <= 3 for p in pages)
    assert _lufs(mp4) == pytest.approx(-14.0, abs=0.5)
    assert res.outputs["loudness"]["after"] == pytest.approx(-14.0, abs=0.1)


def test_ad_is_branded_and_personalised_by_its_params(rendered, engine, tmp_path):
    from .conftest import small_workflow

    res, _ = rendered("ad")
    assert res.status == "finished", res.failed
    w, h, seconds, _ = _probe(res.outputs["encode"]["path"])
    assert (w, h) == (432, 540) and seconds > 5
    said = " ".join(c.text.replace("\n", " ") for c in res.outputs["captions"]["subtitles"])
    assert "Hi Sam!" in said and "20% off your first box" in said
    assert _lufs(res.outputs["encode"]["path"]) == pytest.approx(-14.0, abs=0.5)
    # one batch row: other params, same graph; the intro card speaks to Ada now
    row = {"name": "Ada", "offer": "a free mug"}
    wf = small_workflow("ad", 216, 270)
    other = engine.run(wf, params=row, targets=["captions", "card"], out_dir=tmp_path)
    assert other.status == "finished", other.failed
    said = " ".join(c.text.replace("\n", " ") for c in other.outputs["captions"]["subtitles"])
    assert "Hi Ada!" in said and "a free mug" in said and "Sam" not in said
    cards = other.outputs["card"]["image"]
    assert len(cards) == 3 and tuple(cards[0].shape[1:3]) == (270, 216)


def test_lesson_has_slides_a_presenter_and_speech_loudness(rendered):
    res, _ = rendered("lesson")
    assert res.status == "finished", res.failed
    mp4 = Path(res.outputs["encode"]["path"])
    w, h, seconds, subs = _probe(mp4)
    assert (w, h) == (640, 360) and seconds > 10 and subs == ["mov_text"]
    assert Path(res.outputs["srt"]["path"]).suffix == ".vtt"
    assert _lufs(mp4) == pytest.approx(-16.0, abs=0.5)
    # the presenter's circle sits bottom right: that corner moves while the slide is still
    import av

    with av.open(str(mp4)) as c:
        frames = [
            f.to_ndarray(format="rgb24")
            for i, f in zip(range(40), c.decode(c.streams.video[0]), strict=False)
        ]
    a, b = frames[20].astype(np.int16), frames[39].astype(np.int16)
    corner = np.abs(a[250:, 500:] - b[250:, 500:]).mean()
    assert corner > 0.5


def test_a_lesson_variant_with_one_slide_edited_re_uses_the_other_slides(
    rendered, engine, tmp_path
):
    """Slides, the presenter and the picture-in-picture have segment keys: editing the
    second slide's bullet (same narration) re-encodes only that slide, and the file
    decodes to the frames of a full encode of the variant."""
    from reelgraph.media import encode_video

    from .conftest import small_workflow

    res, _ = rendered("lesson")
    wf = small_workflow("lesson", 640, 360, presenter={"width": 160, "height": 160})
    script = wf.doc["params"]["script"]["default"]
    assert "- Oxygen is released" in script
    edited = script.replace("- Oxygen is released", "- Oxygen is set free")
    out = engine.run(
        wf, params={"script": edited}, targets=["encode", "loudness"], out_dir=tmp_path / "v"
    )
    assert out.status == "finished", out.failed
    enc = out.outputs["encode"]
    video = out.outputs["loudness"]["video"]
    first_cut = video.cut_points()[0]
    assert enc["reused_frames"] >= first_cut  # slide 1 (and its presenter) as encoded before
    assert 0 < enc["encoded_frames"] <= video.frame_count - first_cut
    full = encode_video(video, tmp_path / "full.mp4")  # no segment store: every frame
    assert _frame_hashes(Path(enc["path"])) == _frame_hashes(full.path)
    assert res.outputs["encode"]["path"] != enc["path"]


FOUR_SLIDES = (
    "# Light\n- Light is energy\nPlants use light as their energy.\n\n"
    "# Water\n- Water from the roots\nWater comes up from the roots.\n\n"
    "# Air\n- Air in the leaves\nCarbon dioxide enters the leaves.\n\n"
    "# Sugar\n- Sugar feeds the plant\nThe plant makes sugar.\n"
)


def test_a_lesson_variant_with_one_slide_re_narrated_re_uses_the_other_slides(engine, tmp_path):
    """The presenter's motion is built per slide: when what the second of four slides
    says changes (and so its length), only the frames that slide's content reaches are
    encoded again, its own and the crossfade windows at its two cuts; slides 1, 3 and 4,
    presenter included, and the crossfade between 3 and 4 (a segment spanning two
    slides) are muxed from the first render's packets, and the file decodes to the
    frames of a full encode of the variant."""
    from reelgraph.media import encode_video, plan_segments

    from .conftest import small_workflow

    wf = small_workflow("lesson", 640, 360, presenter={"width": 160, "height": 160})
    targets = ["encode", "loudness", "slide"]
    first = engine.run(wf, params={"script": FOUR_SLIDES}, targets=targets, out_dir=tmp_path / "a")
    assert first.status == "finished", first.failed
    said = "Water travels all the way up from the roots, through the stem."
    edited = FOUR_SLIDES.replace("Water comes up from the roots.", said)
    out = engine.run(wf, params={"script": edited}, targets=targets, out_dir=tmp_path / "b")
    assert out.status == "finished", out.failed
    before = [c.frame_count for c in first.outputs["slide"]["video"]]
    lengths = [c.frame_count for c in out.outputs["slide"]["video"]]
    assert lengths[1] > before[1] and [lengths[k] for k in (0, 2, 3)] == [
        before[k] for k in (0, 2, 3)
    ]
    video = out.outputs["loudness"]["video"]
    half = round(0.5 * 24) // 2  # the crossfade's half window at each cut
    s1, s2, s3 = (sum(lengths[:k]) for k in (1, 2, 3))
    touched = (s1 - half, s2 + half)  # slide 2 and the two windows that blend into it
    segments = plan_segments(video)
    assert (s3 - half, s3 + half) in segments  # the crossfade from slide 3 into 4
    inside = sum(b - a for a, b in segments if a < touched[1] and b > touched[0])
    enc = out.outputs["encode"]
    assert enc["encoded_frames"] == inside, (segments, touched)
    others = lengths[0] + lengths[2] + lengths[3]
    assert enc["reused_frames"] == video.frame_count - inside > 0.7 * others
    full = encode_video(video, tmp_path / "full.mp4")  # no segment store: every frame
    assert _frame_hashes(Path(enc["path"])) == _frame_hashes(full.path)


def _frame_hashes(path):
    import hashlib

    import av

    with av.open(str(path)) as c:
        return [
            hashlib.md5(f.to_ndarray(format="rgb24").tobytes()).hexdigest()
            for f in c.decode(video=0)
        ]
