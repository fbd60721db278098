"""The shipped workflows render offline; a 60-second narration stays in sync end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from .conftest import mouth_box, opening_height

ROOT = Path(__file__).resolve().parents[2]

# About a minute of speech.
LONG = (
    "Good morning, and welcome to this short briefing. Today we look at three things: the plan for the "
    "spring, the budget, and the people who make it happen. First, the plan. We will open two new "
    "branches, one by the harbour and one in the old market, and both will be ready before the summer. "
    "Second, the budget. Prices went up, but we kept every promise we made, and we still have money put "
    "aside for bad weather. Third, the people. Maria joined us in March, Peter moved to the payments "
    "team, and Bob, who built our first website, is back with a brand new project. Thank you all for "
    "the hard work. Please send me your questions by Friday, and I will answer every one of them next "
    "week. One more thing before we finish. The new building by the river will open in May, with a "
    "bright cafe, a big meeting room, and plenty of space for bikes. Bring your family to the opening, "
    "there will be music, food, and a small surprise for the children. Maybe we will even see the sun. "
    "Have a wonderful day."
)


@pytest.fixture(scope="module")
def engine():
    from reelgraph.engine import Cache, Engine, Registry

    reg = Registry.discover()
    ours = [e for e in reg.load_errors if "avatar" in (e.traceback or "") + e.message]
    assert ours == [], [e.message for e in ours]
    with Engine(reg, Cache()) as eng:
        yield eng


@pytest.fixture(scope="module")
def long_render(engine, tmp_path_factory):
    from reelgraph.engine import load_workflow

    out = tmp_path_factory.mktemp("presenter")
    params = {"script": LONG, "width": 256, "height": 144, "character": "sam", "filename": "long"}
    res = engine.run(
        load_workflow(ROOT / "reelgraph" / "workflows" / "presenter.json"),
        params=params,
        targets=["encode", "presenter", "loud"],
        out_dir=out,
    )
    assert res.status == "finished", res.failed
    return res


def test_presenter_workflow_is_a_narrated_subtitled_mp4(long_render):
    import av

    from reelgraph.engine.media.metadata import read_media_metadata

    path = Path(long_render.outputs["encode"]["path"])
    with av.open(str(path)) as c:
        assert c.streams.video and c.streams.audio and len(c.streams.subtitles) == 1
        assert (
            c.streams.video[0].codec_context.width,
            c.streams.video[0].codec_context.height,
        ) == (256, 144)
    meta = read_media_metadata(path)
    assert "avatar.Presenter" in json.dumps(meta)


def test_sixty_seconds_stay_in_sync(long_render):
    """Decoded from the MP4: audio and video lengths agree to a frame, and the drawn mouth
    follows the decoded audio's loudness with no lag, at the start and at the end."""
    from reelgraph.engine.media.video import FileVideo, decode_audio
    from reelgraph.nodes.avatar_motion import loud_norm, loudness_envelope, speech_level

    path = Path(long_render.outputs["encode"]["path"])
    video = FileVideo(path)
    audio = decode_audio(path)
    fps = video.fps
    assert video.duration >= 55.0
    assert abs(audio.duration - video.duration) <= 1 / fps
    box = mouth_box(256, 144)
    height = np.concatenate([opening_height(c.numpy(), box) for c in video.chunks(64)]).astype(
        float
    )
    db, _ = loudness_envelope(audio.samples, audio.sample_rate, fps, video.frame_count)
    ref, gate = speech_level(db)
    loud = loud_norm(db, ref, gate)

    def best_lag(a, b):
        rs = {
            lag: np.corrcoef(
                a[max(0, lag) : len(a) + min(0, lag)], b[max(0, -lag) : len(a) - max(0, lag)]
            )[0, 1]
            for lag in range(-4, 5)
        }
        return max(rs, key=rs.get), rs

    n = len(height)
    q = n // 4
    for part in (slice(0, q), slice(n - q, n), slice(0, n)):
        lag, rs = best_lag(height[part], loud[part])
        assert abs(lag) <= 1 and rs[0] >= 0.5, (part, rs)
    # and the presenter's own track agrees with the audio it was given
    track = long_render.outputs["presenter"]["video"].track
    _, _, given = (lambda d: (d, None, loud_norm(d, *speech_level(d))))(
        loudness_envelope(
            long_render.outputs["loud"]["audio"].samples,
            long_render.outputs["loud"]["audio"].sample_rate,
            fps,
            track.frame_count,
        )[0]
    )
    assert np.corrcoef(track.openness, given)[0, 1] >= 0.6


def test_picture_in_picture_workflow(engine, tmp_path):
    """The explainer's slides with the presenter in a corner, made small and short."""
    from reelgraph.engine import loads_workflow
    from reelgraph.engine.media.video import FileVideo

    doc = json.loads((ROOT / "reelgraph" / "workflows" / "presenter_pip.json").read_text())
    n = doc["nodes"]
    script = "# One\nThe first scene is short.\n\n# Two\nMy mouth moves with the words, in a small circle.\n"
    n["card"]["inputs"].update(width=320, height=180)
    n["clip"]["inputs"].update(width=320, height=180)
    n["presenter"]["inputs"].update(width=96, height=96)
    res = engine.run(
        loads_workflow(json.dumps(doc)),
        params={"script": script, "character": "sam"},
        targets=["encode", "timeline", "clip", "speak"],
        out_dir=tmp_path,
    )
    assert res.status == "finished", res.failed
    clips = res.outputs["clip"]["video"]
    timings = res.outputs["speak"]["timings"]
    joined = res.outputs["timeline"]["timings"]
    # the second scene's phonemes are moved to where its clip starts
    assert joined.phonemes[len(timings[0].phonemes)].start == pytest.approx(
        timings[1].phonemes[0].start + clips[0].duration
    )
    v = FileVideo(res.outputs["encode"]["path"])
    frames = np.concatenate([c.numpy() for c in v.chunks(64)]).astype(np.int16)
    h = round(180 * 0.34)
    m = round(0.035 * 180)
    corner = frames[:, 180 - m - h : 180 - m, 320 - m - h : 320 - m]
    # the presenter's face is there: sam's skin tone fills the middle of the circle
    cheek = corner[
        len(frames) // 2, int(h * 0.42) : int(h * 0.52), int(h * 0.25) : int(h * 0.4)
    ].reshape(-1, 3)
    assert (np.abs(np.median(cheek, axis=0) - np.array([255, 220, 190])) < 45).all(), np.median(
        cheek, axis=0
    )
    # and it talks: the lower face changes from frame to frame while the slide stays still
    mouth = corner[:, int(h * 0.55) : int(h * 0.75), int(h * 0.35) : int(h * 0.65)]
    assert np.abs(np.diff(mouth, axis=0)).mean() > 1.0


def test_workflows_validate():
    from reelgraph.engine import Registry, load_workflow, validate_workflow

    reg = Registry.discover()
    for name in ("presenter.json", "presenter_pip.json"):
        issues = validate_workflow(load_workflow(ROOT / "reelgraph" / "workflows" / name), reg)
        assert [i for i in issues if i.severity == "error"] == [], (name, issues)
