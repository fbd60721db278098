"""A presenter over an edit moves scene by scene: each scene's motion comes from its own
speech only, so re-narrating one scene leaves the others' rows, frames and segment keys
as they were, and the scenes join at their cuts without a jump."""

from __future__ import annotations

import numpy as np
import pytest

SAID = (
    "Plants use light as their energy.",
    "Water comes up from the roots.",
    "Carbon dioxide enters the leaves, and oxygen goes out.",
)
RE_SAID = "Water travels all the way up from the roots, through the stem, to every leaf."
FPS = 24.0
TAIL = 0.6  # as lesson.Slide pads each narration


@pytest.fixture(scope="module")
def scenes():
    """(audio, timings) per scene, each audio padded like a slide's to whole frames, and
    the re-narrated second scene."""
    import math

    from reelgraph.nodes.tts import speak_piper
    from reelgraph.nodes.video import fit_audio

    out = []
    for text in (*SAID, RE_SAID):
        audio, timings = speak_piper(text, "en_US-joe-medium", 1.0, True, 0.2)
        frames = math.ceil((audio.duration + TAIL) * FPS - 1e-6)
        out.append((fit_audio(audio, frames / FPS), timings))
    return out


def _presenter(parts, **kw):
    from reelgraph.nodes.avatar import presenter

    return presenter(
        [a for a, _ in parts],
        [t for _, t in parts],
        character="ava",
        width=160,
        height=160,
        fps=FPS,
        **{"seed": 2, **kw},
    )


def _frames(parts):
    return [round(a.duration * FPS) for a, _ in parts]


def test_an_unchanged_scene_keeps_its_rows_frames_and_keys(scenes):
    first = _presenter(scenes[:3])
    other = _presenter([scenes[0], scenes[3], scenes[2]])
    n = _frames(scenes[:3])
    m = _frames([scenes[0], scenes[3], scenes[2]])
    assert first.frame_count == sum(n) and other.frame_count == sum(m)
    assert first.cut_points() == [n[0], n[0] + n[1]] and other.cut_points() == [m[0], m[0] + m[1]]
    assert m[1] > n[1]  # the second scene now says more: the third moves later
    a, b = first.track, other.track
    s3, t3 = n[0] + n[1], m[0] + m[1]
    for f in ("mouth", "visemes", "blink", "head", "gaze"):
        assert np.array_equal(getattr(a, f)[: n[0]], getattr(b, f)[: m[0]]), f
        assert np.array_equal(getattr(a, f)[s3:], getattr(b, f)[t3:]), f
    assert not np.array_equal(a.mouth[n[0] : s3][: n[1]], b.mouth[m[0] : t3][: n[1]])
    # what the encoder asks: equal keys for the unchanged scenes, wherever they sit
    assert first.segment_key(0, n[0]) == other.segment_key(0, m[0])
    assert first.segment_key(s3, sum(n)) == other.segment_key(t3, sum(m))
    assert first.segment_key(n[0], s3) != other.segment_key(m[0], t3)
    assert np.array_equal(first.render_array(s3, s3 + 12), other.render_array(t3, t3 + 12))
    # the audio is each scene's, end to end, sample for sample
    rate = first.audio.sample_rate
    assert first.audio.frames == round(sum(n) / FPS * rate)
    assert np.array_equal(first.audio.array[:, : scenes[0][0].frames], scenes[0][0].array)


def test_scenes_differ_from_each_other_and_from_another_seed(scenes):
    one = _presenter(scenes[:1]).track
    both = _presenter([scenes[0], scenes[0]]).track  # the same speech twice: the same motion
    assert np.array_equal(both.head[: one.frame_count], both.head[one.frame_count :])
    three = _presenter(scenes[:3]).track
    n = _frames(scenes[:3])
    assert not np.allclose(three.head[: n[0]][:40], three.head[n[0] : n[0] + 40])
    reseeded = _presenter(scenes[:3], seed=3).track
    assert not np.array_equal(reseeded.head, three.head)
    assert np.array_equal(reseeded.mouth, three.mouth)  # the mouth follows the speech only


def test_scenes_join_without_a_jump(scenes):
    track = _presenter(scenes[:3]).track
    n = _frames(scenes[:3])
    roll = track.head[:, 2]
    assert np.abs(np.diff(roll)).max() < 0.5  # well under a degree per frame, cuts included
    assert np.ptp(roll) > 0.5  # and it does move between the cuts
    for cut in (n[0], n[0] + n[1]):
        for i in (cut - 1, cut):  # either side of the cut: at rest, looking, eyes open
            assert np.abs(track.head[i]).max() < 0.02
            assert np.abs(track.gaze[i]).max() == 0.0
            assert track.blink[i] == 0.0
        assert track.mouth[cut - 1, 0] < 0.05  # the slide's tail is silent: the mouth is shut
    shut = track.blink > 0.97
    assert int((np.diff(shut.astype(int)) == 1).sum()) >= 1  # it still blinks


def test_a_silent_scene_rests_and_mismatched_lists_are_refused(scenes):
    from reelgraph.engine import NodeInputError
    from reelgraph.engine.media import AudioClip
    from reelgraph.nodes.avatar import presenter

    quiet = AudioClip(np.zeros((1, 22050 * 2), np.float32), 22050)
    v = _presenter([scenes[0], (quiet, None), scenes[1]])
    n = _frames(scenes[:1])[0]
    assert v.frame_count == n + 48 + _frames(scenes[1:2])[0]
    assert np.abs(v.track.mouth[n : n + 48, 0]).max() == 0.0  # nothing said: mouth shut
    assert np.ptp(v.track.head[n : n + 48, 2]) > 0  # but alive
    with pytest.raises(NodeInputError, match="every scene is silent") as exc:
        _presenter([(quiet, None), (quiet, None)])
    assert exc.value.input == "audio"
    with pytest.raises(NodeInputError, match="2 timings for 3 audio") as exc:
        presenter([a for a, _ in scenes[:3]], [t for _, t in scenes[:2]], width=64, height=64)
    assert exc.value.input == "timings"


def test_timeline_speech_gives_each_clip_its_own_audio(scenes):
    from reelgraph.engine.media import TensorVideo
    from reelgraph.nodes.avatar import timeline_speech

    clips = [
        TensorVideo(np.zeros((f, 8, 8, 3), np.uint8), FPS, a)
        for f, (a, _) in zip(_frames(scenes[:3]), scenes[:3], strict=True)
    ]
    clips[1] = clips[1].with_audio(None)  # a clip without sound: silence, as long as it is
    joined, _timings, parts = timeline_speech(clips, [t for _, t in scenes[:3]])
    assert [p.frames for p in parts] == [
        round(c.duration * p.sample_rate) for c, p in zip(clips, parts, strict=True)
    ]
    assert np.array_equal(parts[0].array, scenes[0][0].array)
    assert not parts[1].array.any()
    at = parts[0].frames + parts[1].frames
    assert np.array_equal(joined.array[:, at:], parts[2].array)
