"""A piece of text the voice has said before is its audio again: not spoken twice in
a process (a batch's repeated names and cities, a one-word edit of one sentence), and
the speech made from kept pieces is bit for bit the speech made by the model."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from reelgraph.nodes import tts
from reelgraph.nodes.spoken_pieces import SPOKEN, SpokenPieces, _nbytes, piece_key


class CountedSession:
    """The voice's real onnxruntime session, counting its calls."""

    def __init__(self, session):
        self.session, self.calls = session, 0
        self._lock = threading.Lock()

    def run(self, output_names, feeds, run_options=None):
        with self._lock:
            self.calls += 1
        return self.session.run(output_names, feeds, run_options)

    def __getattr__(self, name):
        return getattr(self.session, name)


@pytest.fixture
def counted():
    pv = tts.load_piper(tts.DEFAULT_VOICE)
    real, pv.session = pv.session, CountedSession(pv.session)
    SPOKEN.clear()
    try:
        yield pv.session
    finally:
        pv.session = real
        SPOKEN.clear()


def say(text: str, deterministic: bool = True):
    return tts.speak_piper(text, tts.DEFAULT_VOICE, 1.0, deterministic, 0.2)


def test_a_narration_of_sentences_said_before_needs_no_model_call(counted):
    say("Hi Ada! This short video was made just for you, in London.")
    say("Hi Alan! This short video was made just for you, in Leeds.")
    assert counted.calls == 4
    kept, kept_timings = say("Hi Ada! This short video was made just for you, in Leeds.")
    assert counted.calls == 4  # both sentences were said before, in other greetings
    SPOKEN.clear()
    fresh, fresh_timings = say("Hi Ada! This short video was made just for you, in Leeds.")
    assert counted.calls == 6
    assert np.array_equal(kept.codes, fresh.codes)
    assert kept_timings == fresh_timings


def test_an_edit_of_one_sentence_speaks_that_sentence_only(counted):
    scene = "The harbour wakes at dawn. Boats leave one by one. The gulls follow them out."
    say(scene)
    calls = counted.calls
    say(scene.replace("one by one", "two by two"))
    assert counted.calls == calls + 1


def test_speech_with_generator_noise_is_spoken_every_time(counted):
    say("Every call of a noisy voice differs.", deterministic=False)
    say("Every call of a noisy voice differs.", deterministic=False)
    assert counted.calls == 2 and SPOKEN.bytes == 0


def test_callers_side_by_side_speak_a_new_piece_once(counted):
    """Rows running at once that greet the same new name: one model call for it."""
    texts = [f"Hi Grace! Welcome to {city}." for city in ("Paris", "Rome", "Oslo", "Lima")]
    start = threading.Barrier(len(texts))
    spoken = {}

    def row(text):
        start.wait()
        spoken[text] = say(text)

    threads = [threading.Thread(target=row, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counted.calls == 1 + len(texts)  # "Hi Grace!" once, each city once
    # the greeting is the same samples in every row
    greeting = [
        clip.codes[0, : round(timings.sentences[0][1] * clip.sample_rate)]
        for clip, timings in spoken.values()
    ]
    assert greeting[0].size > 0 and all(np.array_equal(greeting[0], g) for g in greeting)


def test_the_kept_pieces_stay_within_their_bytes():
    pv = tts.load_piper(tts.DEFAULT_VOICE)
    from piper import SynthesisConfig

    cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, normalize_audio=False)
    sentences = ["The first one.", "The second one here.", "And then a third."]
    made = {s: list(pv.synthesize(s, cfg, include_alignments=True)) for s in sentences}
    # room for the last two: the third pushes the first out
    pieces = SpokenPieces(max_bytes=_nbytes(made[sentences[1]]) + _nbytes(made[sentences[2]]))
    keys = {s: piece_key(pv, s, cfg, 1) for s in sentences}
    for s in sentences:
        assert pieces.get_or_speak(keys[s], pv, lambda s=s: made[s]) is made[s]
    assert pieces.bytes <= pieces.max_bytes and pieces.misses == 3
    # the oldest went first; the newest is still there
    assert pieces.get_or_speak(keys[sentences[2]], pv, list) is made[sentences[2]]
    again = list(made[sentences[0]])
    assert pieces.get_or_speak(keys[sentences[0]], pv, lambda: again) is again
    # another voice (or the same one loaded anew) never gets this voice's audio
    other, theirs = object(), list(made[sentences[2]])
    assert pieces.get_or_speak(keys[sentences[2]], other, lambda: theirs) is theirs
