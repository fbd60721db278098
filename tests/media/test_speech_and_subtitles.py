from __future__ import annotations

import pytest
import torch

from reelgraph.engine.media import Cue, WordTiming
from reelgraph.nodes.subtitles import build_cues, parse_srt, to_srt, to_vtt, wrap_cue
from reelgraph.nodes.tts import speak


@pytest.fixture(scope="module")
def hello():
    return speak("Hello world. Subtitles follow the voice, word by word, all the way through.")


def test_speak_is_deterministic_and_timed(hello):
    from reelgraph.nodes.spoken_pieces import SPOKEN

    audio, timings = hello
    SPOKEN.clear()  # the voice model itself speaks again, not the kept pieces
    again, _ = speak("Hello world. Subtitles follow the voice, word by word, all the way through.")
    assert torch.equal(audio.samples, again.samples)
    assert audio.sample_rate == 22050 and audio.duration > 2
    words = [w.word for w in timings.words]
    assert words == [
        "Hello",
        "world.",
        "Subtitles",
        "follow",
        "the",
        "voice,",
        "word",
        "by",
        "word,",
        "all",
        "the",
        "way",
        "through.",
    ]
    starts = [w.start for w in timings.words]
    assert starts == sorted(starts) and all(w.end > w.start for w in timings.words)
    assert timings.words[-1].end <= audio.duration
    # the words lie where the sound is: energy inside word spans beats the gap between sentences
    s = audio.samples[0]
    r = audio.sample_rate
    inside = s[int(timings.words[2].start * r) : int(timings.words[2].end * r)].pow(2).mean()
    gap = s[int(timings.sentences[0][1] * r) : int(timings.sentences[1][0] * r)].pow(2).mean()
    assert inside > 50 * gap


def test_speed_changes_length(hello):
    fast, _ = speak(
        "Hello world. Subtitles follow the voice, word by word, all the way through.", speed=1.5
    )
    assert fast.duration < hello[0].duration * 0.8


def test_cues_are_readable_and_on_time(hello):
    _, timings = hello
    cues = build_cues(list(timings.words), limit=timings.duration)
    assert cues[0].start == pytest.approx(timings.words[0].start, abs=1e-3)
    assert cues[0].text == "Hello world."  # sentence ends break cues
    for c in cues:
        lines = c.text.split("\n")
        assert len(lines) <= 2 and all(len(ln) <= 42 for ln in lines)
    assert cues[-1].end <= timings.duration


def test_long_text_wraps_and_splits():
    words = [WordTiming(f"word{i:02d}", i * 0.3, i * 0.3 + 0.25) for i in range(40)]
    cues = build_cues(words, max_duration=6.0, min_duration=1.0)
    assert len(cues) > 2
    for c in cues:
        assert all(len(ln) <= 42 for ln in c.text.split("\n")) and len(c.text.split("\n")) <= 2
        assert c.end - c.start <= 6.3
    assert wrap_cue("short") == "short"
    assert (
        wrap_cue("a" * 20 + " " + "b" * 20 + " " + "c" * 10)
        == "a" * 20 + " " + "b" * 20 + "\n" + "c" * 10
        or max(len(x) for x in wrap_cue("a" * 20 + " " + "b" * 20 + " " + "c" * 10).split("\n"))
        <= 42
    )


def test_min_duration_never_overlaps_next_cue():
    words = [WordTiming("Hi.", 0.0, 0.2), WordTiming("There.", 0.5, 0.8)]
    a, b = build_cues(words, min_duration=1.0)
    assert a.end <= b.start and a.end > 0.2


def test_srt_and_vtt_round_trip():
    cues = [Cue(0.0, 1.25, "one"), Cue(3661.5, 3662.0, "two\nlines")]
    srt = to_srt(cues)
    assert "01:01:01,500 --> 01:01:02,000" in srt
    assert parse_srt(srt) == cues
    vtt = to_vtt(cues)
    assert vtt.startswith("WEBVTT") and "00:00:01.250" in vtt
    assert parse_srt(vtt) == cues
