"""The mouth follows the speech: loudness, silence, bilabials, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import interior_pixels, opening_height


def envelope(audio, fps, frames):
    from reelgraph.nodes.avatar_motion import loud_norm, loudness_envelope, speech_level

    db, _ = loudness_envelope(audio.samples, audio.sample_rate, fps, frames)
    ref, gate = speech_level(db)
    return db, gate, loud_norm(db, ref, gate)


def test_phoneme_timings_from_piper(speech):
    t = speech.timings
    assert len(t.phonemes) > 40
    starts = [p.start for p in t.phonemes]
    assert starts == sorted(starts)
    assert all(p.end > p.start for p in t.phonemes)
    # stress and length marks are folded in, pauses left out
    assert not any(p.phoneme in ("ˈ", "ˌ", "ː", " ", ",", ".", "^", "$") for p in t.phonemes)
    # every phoneme lies inside a word
    for p in t.phonemes:
        mid = (p.start + p.end) / 2
        assert any(w.start - 1e-3 <= mid <= w.end + 1e-3 for w in t.words), p
    # "Bob" is b-ɑ-b
    bob = next(w for w in t.words if w.word.startswith("Bob"))
    inside = [p.phoneme[0] for p in t.phonemes if bob.start - 1e-3 <= p.start < bob.end]
    assert inside[0] == "b" and inside[-1] == "b"


def test_timings_with_phonemes_survive_the_disk_cache(speech):
    import reelgraph.engine.media  # noqa: F401  (registers the media codecs, phonemes included)
    from reelgraph.engine.serialize import packb, unpackb

    back = unpackb(packb(speech.timings))
    assert back == speech.timings
    shifted = speech.timings.shifted(2.0)
    assert shifted.phonemes[0].start == pytest.approx(speech.timings.phonemes[0].start + 2.0)


def test_openness_follows_loudness(render, speech):
    tr = render.video.track
    assert tr.driver == "phonemes"
    _, _, loud = envelope(speech.audio, 24.0, tr.frame_count)
    r = np.corrcoef(tr.openness, loud)[0, 1]
    assert r >= 0.6, r
    # the pixels say the same as the track: the drawn opening grows with `open`
    px = opening_height(render.frames, render.box)
    assert np.corrcoef(px, tr.openness)[0, 1] >= 0.85
    # and the drawn mouth follows loudness too, best without a lag
    rs = {
        lag: np.corrcoef(
            px[max(0, lag) : len(px) + min(0, lag)], loud[max(0, -lag) : len(px) - max(0, lag)]
        )[0, 1]
        for lag in range(-3, 4)
    }
    assert rs[0] >= 0.6 and max(rs, key=rs.get) == 0, rs


def test_loudness_mode_follows_loudness(speech):
    from reelgraph.nodes.avatar import presenter

    v = presenter(speech.audio, None, character="sam", width=128, height=72, fps=24.0, seed=5)
    tr = v.track
    assert tr.driver == "loudness"
    db, gate, loud = envelope(speech.audio, 24.0, tr.frame_count)
    assert np.corrcoef(tr.openness, loud)[0, 1] >= 0.8
    # quiet stretches (5+ frames under the gate) shut the mouth here too
    quiet = db < gate
    runs = np.convolve(quiet.astype(int), np.ones(5, int), mode="same") == 5
    assert runs.sum() >= 5 and tr.openness[runs].max() < 0.06


def test_background_image(speech):
    import torch

    from reelgraph.nodes.avatar import presenter

    bg = torch.zeros(1, 90, 160, 3)
    bg[..., 1] = 0.8  # green screen
    v = presenter(speech.audio, speech.timings, width=160, height=90, background=bg)
    f = v.render(0, 1)[0].numpy()
    assert (f[:8, :8] == [0, 204, 0]).all() and (f[:8, -8:] == [0, 204, 0]).all()
    assert not (f[45, 80] == [0, 204, 0]).all()  # the presenter stands in front


def test_mouth_closes_on_silence(render, speech):
    tr = render.video.track
    db, gate, _ = envelope(speech.audio, 24.0, tr.frame_count)
    quiet = db < gate
    # frames inside runs of at least 5 quiet frames, away from the run's edges
    calm = np.zeros_like(quiet)
    i = 0
    while i < len(quiet):
        if quiet[i]:
            j = i
            while j < len(quiet) and quiet[j]:
                j += 1
            if j - i >= 5:
                calm[i + 2 : j - 2] = True
            i = j
        else:
            i += 1
    assert calm.sum() >= 10  # the leading/trailing silence and the sentence pauses
    assert tr.openness[calm].max() < 0.06
    assert interior_pixels(render.frames[calm], render.box).max() == 0


def test_bilabials_close_the_lips(render, speech):
    from reelgraph.nodes.avatar_motion import PIPER_LEAD, VISEME_NAMES

    tr = render.video.track
    mbp = tr.visemes == VISEME_NAMES.index("MBP")
    assert mbp.sum() >= 8
    assert tr.openness[mbp].max() <= 0.02
    assert interior_pixels(render.frames[mbp], render.box).max() == 0
    # every m, b and p of the text shuts the mouth on at least one frame near it
    fps = 24.0
    for p in speech.timings.phonemes:
        if p.phoneme[0] in "mbp":
            mid = (p.start + p.end) / 2 - PIPER_LEAD
            f = int(mid * fps)
            near = tr.openness[max(0, f - 1) : f + 2]
            assert near.min() <= 0.02, (p, near)


def test_open_vowels_open_round_vowels_round(render, speech):
    from reelgraph.nodes.avatar_motion import P_WIDTH, VISEME_NAMES

    tr = render.video.track
    v = tr.visemes
    op = tr.openness
    a = op[v == VISEME_NAMES.index("A")]
    e = tr.mouth[v == VISEME_NAMES.index("I"), P_WIDTH]
    o = tr.mouth[np.isin(v, [VISEME_NAMES.index("O"), VISEME_NAMES.index("U")]), P_WIDTH]
    assert a.mean() > 0.45 > op[v == VISEME_NAMES.index("MBP")].max()
    assert e.mean() > 1.1 > 0.85 > o.mean()


def test_deterministic_with_a_seed(render, speech):
    from reelgraph.nodes.avatar import presenter

    again = presenter(
        speech.audio, speech.timings, character="sam", width=320, height=180, fps=24.0, seed=5
    )
    assert np.array_equal(again.render(40, 80).numpy(), render.frames[40:80])
    other = presenter(
        speech.audio, speech.timings, character="sam", width=320, height=180, fps=24.0, seed=6
    )
    assert not np.array_equal(other.track.head, render.video.track.head)
    assert not np.array_equal(other.track.blink, render.video.track.blink)
    # the mouth depends on the speech only, not on the seed
    assert np.array_equal(other.track.mouth, render.video.track.mouth)


def test_blinks_and_head_motion(render):
    tr = render.video.track
    dur = tr.frame_count / tr.fps
    shut = tr.blink > 0.97
    blinks = int((np.diff(shut.astype(int)) == 1).sum())
    assert 1 <= blinks <= dur / 1.0  # natural: every 2-6 s, never a flutter
    assert shut.mean() < 0.12
    dx, _dy, roll = tr.head[:, 0], tr.head[:, 1], tr.head[:, 2]
    assert 0.002 < np.ptp(dx) < 0.1 and 0.5 < np.ptp(roll) < 8
    assert np.abs(np.diff(roll)).max() < 0.5  # smooth: well under a degree per frame
    # a blink shows on the pixels: the eyes' whites disappear
    u = 0.36 * 180
    ey0, ey1 = int(0.42 * 180 - 0.2 * u), int(0.42 * 180 + 0.1 * u)
    eyes = render.frames[:, ey0:ey1, int(160 - 0.4 * u) : int(160 + 0.4 * u)].astype(int)
    white = ((eyes > 235).all(axis=-1)).sum(axis=(1, 2))
    assert white[shut].max() < 0.3 * np.median(white[~shut])


def test_video_carries_the_audio_in_step(render, speech):
    v = render.video
    assert v.audio is not None
    assert abs(v.audio.duration - v.duration) < 1e-6
    assert v.duration - speech.audio.duration < 1 / v.fps
    n = round(speech.audio.duration * speech.audio.sample_rate)
    assert np.array_equal(v.audio.samples[:, :n].numpy(), speech.audio.samples.numpy())


def test_characters_and_sizes(speech):
    from reelgraph.nodes.avatar import presenter
    from reelgraph.nodes.avatar_draw import STYLE_NAMES

    for name, (w, h) in zip(STYLE_NAMES, [(96, 96), (200, 120), (90, 160), (64, 64)], strict=False):
        v = presenter(speech.audio, speech.timings, character=name, width=w, height=h, fps=12.0)
        f = v.render(10, 12).numpy()
        assert f.shape == (2, h, w, 3) and f.std() > 10


def test_errors_for_silence_and_missing_phonemes(speech):
    from reelgraph.engine import NodeInputError
    from reelgraph.engine.media import AudioClip
    from reelgraph.nodes.avatar import presenter

    silent = AudioClip.silence(3.0, 22050)
    with pytest.raises(NodeInputError, match="speech") as exc:
        presenter(silent, None, width=64, height=64)
    assert exc.value.input == "audio"
    hum = AudioClip(np.full((1, 22050 * 3), 1e-4, np.float32), 22050)
    with pytest.raises(NodeInputError, match="speech"):
        presenter(hum, None, width=64, height=64)
    with pytest.raises(NodeInputError, match="phonemes") as exc:
        presenter(speech.audio, None, mode="phonemes", width=64, height=64)
    assert exc.value.input == "timings"
