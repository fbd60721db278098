"""A long sentence is spoken clause by clause (each voice-model call stays small) and
still sounds and times like one sentence: word timings in order and over the audio,
no jumps where the pieces meet, one level for the whole sentence."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from piper import SynthesisConfig

from reelgraph.nodes import tts
from reelgraph.nodes.speech_pieces import HARD_PIECE_CHARS, PIECE_CHARS, synthesis_pieces

# sentences of bench/data/long_article.md (over PIECE_CHARS) and a run-on with no
# clause mark at all, which is cut between words
LONG = (
    "On a clear night, the sky above you holds thousands of stars, a few wandering "
    "planets and the faint band of our own galaxy. "
    "Over months the log becomes a record of your progress, and it trains you to "
    "notice small details you would otherwise miss. "
    "The old astronomers walked out into the fields behind the village every evening "
    "and watched the planets move slowly among the fixed stars until the morning light "
    "came up over the hills and the dew lay heavy on the grass."
)


def test_short_sentences_stay_whole():
    s = "A local voice reads the narration aloud, and it is timed."
    assert len(s) <= PIECE_CHARS and synthesis_pieces(s) == [s]


def test_long_sentences_are_cut_after_clause_marks():
    s = (
        "They are vast clouds of dust that block the light of the stars behind them, "
        "and inside some of them new stars are quietly forming."
    )
    assert synthesis_pieces(s) == [
        "They are vast clouds of dust that block the light of the stars behind them,",
        "and inside some of them new stars are quietly forming.",
    ]
    # neighbours are merged while they fit; semicolons, colons and dashes cut too
    s = "Look up: the moon; a planet — and a star, " + "far away " * 4 + "tonight."
    pieces = synthesis_pieces(s, 60)
    assert pieces[0] == "Look up: the moon; a planet — and a star,"
    assert " ".join(pieces) == s
    assert synthesis_pieces("1,000 stars " * 8, 60) == ["1,000 stars " * 8]  # no space: no cut


def test_a_run_on_clause_is_cut_between_words():
    s = " ".join(f"word{i}" for i in range(60)) + "."
    pieces = synthesis_pieces(s)
    assert len(pieces) >= 4 and " ".join(pieces) == s
    assert all(len(p) <= HARD_PIECE_CHARS for p in pieces)
    # CJK clause marks cut without a space after them
    zh = "我们今天晚上看星星，月亮很亮；" * 8
    pieces = synthesis_pieces(zh)
    assert len(pieces) > 1 and "".join(pieces) == zh
    assert all(p.endswith(("，", "；")) for p in pieces)


class CallLengths:
    """The voice's real onnxruntime session, noting the phoneme ids of every call."""

    def __init__(self, session):
        self.session, self.lengths = session, []

    def run(self, output_names, feeds, run_options=None):
        self.lengths.append(int(feeds["input"].shape[1]))
        return self.session.run(output_names, feeds, run_options)

    def __getattr__(self, name):
        return getattr(self.session, name)


@pytest.fixture(scope="module")
def spoken():
    """LONG spoken as shipped (in pieces) and whole (one call a sentence), with the
    longest model input of each."""
    from reelgraph.nodes.spoken_pieces import SPOKEN

    pv = tts.load_piper(tts.DEFAULT_VOICE)
    real = pv.session
    out = {}
    try:
        for name, chars in (("pieces", PIECE_CHARS), ("whole", 10**6)):
            SPOKEN.clear()  # every call counted is the model's
            pv.session = CallLengths(real)
            clip, timings = tts.speak_piper(LONG, tts.DEFAULT_VOICE, 1.0, True, 0.2, None, chars)
            out[name] = (clip, timings, max(pv.session.lengths), len(pv.session.lengths))
    finally:
        pv.session = real
    return out


def test_each_model_call_gets_a_piece_not_the_sentence(spoken):
    _, _, whole_max, whole_calls = spoken["whole"]
    _, _, piece_max, piece_calls = spoken["pieces"]
    assert whole_calls == 3 and piece_calls >= 6
    assert piece_max < 0.6 * whole_max  # the call's memory grows with this


def test_split_sentences_time_every_word_over_the_audio(spoken):
    clip, timings, _, _ = spoken["pieces"]
    words = timings.words
    assert [w.word for w in words] == LONG.split()
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    assert all(w.end > w.start for w in words)
    assert all(b.start >= a.end - 1e-9 for a, b in itertools.pairwise(words))
    # the words cover the audio: speech starts and ends near its edges
    assert words[0].start < 0.3 and clip.duration - words[-1].end < 0.5
    assert len(timings.sentences) == 3
    for (a, b), sentence in zip(timings.sentences, tts._sentences(LONG), strict=True):
        inside = [w for w in words if a - 1e-9 <= w.start and w.end <= b + 1e-9]
        assert len(inside) == len(sentence.split())
    # the words lie where the sound is
    s = np.asarray(clip.samples[0])
    r = clip.sample_rate
    voiced = np.concatenate([s[int(w.start * r) : int(w.end * r)] for w in words])
    gap = s[int(timings.sentences[0][1] * r) : int(timings.sentences[1][0] * r)]
    assert np.mean(voiced**2) > 50 * np.mean(gap**2)
    # phoneme timings (lip sync) are in order and inside the audio
    ph = [p.start for p in timings.phonemes]
    assert ph == sorted(ph) and timings.phonemes[-1].end <= clip.duration + 1e-9


def test_pieces_meet_without_a_click_and_at_one_level(spoken):
    clip, timings, _, _ = spoken["pieces"]
    whole, whole_timings, _, _ = spoken["whole"]
    s = np.asarray(clip.samples[0])
    r = clip.sample_rate
    # where the pieces meet: each piece's samples, spoken on its own (deterministic)
    pv = tts.load_piper(tts.DEFAULT_VOICE)
    cfg = SynthesisConfig(normalize_audio=False, noise_scale=0.0, noise_w_scale=0.0)
    bounds, raws = [], []  # per sentence: its start, its pieces' joins, its end
    for (a, b), sentence in zip(timings.sentences, tts._sentences(LONG), strict=True):
        raw = [
            np.concatenate([c.audio_float_array for c in pv.synthesize(piece, cfg)])
            for piece in synthesis_pieces(sentence)
        ]
        at = [round(a * r)]
        for piece in raw:
            at.append(at[-1] + piece.size)
        assert at[-1] == round(b * r)
        bounds.append(at)
        raws.append(raw)
    joins = [j for at in bounds for j in at[1:-1]]
    assert len(joins) >= 4
    for j in joins:
        assert abs(float(s[j]) - float(s[j - 1])) < 1e-3, j  # no step at the join
        around = s[j - r // 100 : j + r // 100]  # ±10 ms: the pause between clauses
        assert np.sqrt(np.mean(around**2)) < 0.01
    assert np.abs(np.diff(s)).max() < 1.0  # no sample-to-sample jump anywhere
    # one gain a sentence: it peaks at full scale as a sentence spoken whole does, and
    # every piece is the model's audio times that same gain (scaled piece by piece,
    # as Piper scales what it is given, the gains differed by up to 1.3x)
    edge = round(tts.JOIN_FADE_S * r)
    for at, raw in zip(bounds, raws, strict=True):
        assert np.max(np.abs(s[at[0] : at[-1]])) == pytest.approx(1.0, abs=1e-6)
        gains = []
        for (x, y), piece in zip(itertools.pairwise(at), raw, strict=True):
            got, model = s[x + edge : y - edge], piece[edge : piece.size - edge]
            loud = np.abs(model) > 0.01
            gains.append(float(np.median(got[loud] / model[loud])))
        assert max(gains) == pytest.approx(min(gains), rel=1e-4), gains
    # and the pauses between clauses are Piper's own: no silence added or cut
    for (a, b), (c, d) in zip(timings.sentences, whole_timings.sentences, strict=True):
        assert (b - a) == pytest.approx(d - c, rel=0.1)
    assert clip.duration == pytest.approx(whole.duration, rel=0.05)


def test_sentences_that_fit_sound_as_piper_makes_them():
    """One call, and Piper's own level: the sentence scaled to its peak."""
    text = "Reelgraph turns a written script into a finished video."
    assert len(text) <= PIECE_CHARS
    clip, _ = tts.speak_piper(text, tts.DEFAULT_VOICE, 1.0, True, 0.2)
    cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)  # normalize_audio: Piper's default
    (chunk,) = tts.load_piper(tts.DEFAULT_VOICE).synthesize(text, cfg)
    # held at 16 bits: Piper's samples rounded to the nearest 16-bit code
    model = np.asarray(chunk.audio_float_array, np.float32)
    codes = np.clip(np.rint(model * np.float32(32768)), -32768, 32767)
    assert np.array_equal(clip.array[0], codes.astype(np.float32) / np.float32(32768))
    assert np.abs(clip.array[0] - model).max() <= 0.5 / 32768 + 1e-9


def test_a_loaded_voice_keeps_no_copy_of_its_model_file():
    """onnxruntime's Python session keeps the bytes it was made from (60 MB for the
    default voice) unless told otherwise: the voice holds only the session's weights."""
    import subprocess
    import sys

    code = (
        "import gc, tracemalloc\n"
        "import onnx, onnxruntime, piper, piper.patch_voice_with_alignment\n"
        "from reelgraph.nodes import tts\n"
        "tracemalloc.start()\n"
        "pv = tts.load_piper(tts.DEFAULT_VOICE)\n"
        "gc.collect()\n"
        "held, _ = tracemalloc.get_traced_memory()\n"
        "model = tts.piper_files(tts.DEFAULT_VOICE)[0].stat().st_size\n"
        "print(held, model)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    held, model = map(int, done.stdout.split())
    assert held < model / 10, (held, model)  # what loading the voice left in Python's heap


def test_model_calls_share_a_text_budget_in_the_order_they_ask():
    """Two short pieces run side by side; a long one waits until it fits (alone when
    it is over the budget) and is not passed over by the short ones behind it."""
    import threading
    import time

    from reelgraph.nodes.voice_admission import VoiceAdmission

    gate = VoiceAdmission(calls=2, chars=100)
    lock = threading.Lock()
    running: list[str] = []
    seen: list[tuple[str, tuple[str, ...]]] = []

    def call(name: str, cost: int) -> None:
        with gate.admit(cost):
            with lock:
                running.append(name)
                seen.append((name, tuple(running)))
            time.sleep(0.15)
            with lock:
                running.remove(name)

    threads = []
    for name, cost in (("a", 40), ("b", 40), ("long", 150), ("c", 30), ("d", 30)):
        threads.append(threading.Thread(target=call, args=(name, cost)))
        threads[-1].start()
        time.sleep(0.02)  # ask in this order
    for t in threads:
        t.join()
    started = dict(seen)
    assert set(started["b"]) == {"a", "b"}  # two short calls side by side
    assert started["long"] == ("long",)  # over the budget: alone
    order = [name for name, _ in seen]
    assert order.index("long") < order.index("c") < order.index("d")
    assert set(started["d"]) == {"c", "d"}


def test_speech_is_held_at_16_bits_and_the_same_text_gives_the_same_codes():
    from reelgraph.media import Pcm16Audio
    from reelgraph.nodes.spoken_pieces import SPOKEN

    text = "Streamed, not stored. The same words, the same samples."
    one, _ = tts.speak_piper(text, tts.DEFAULT_VOICE, 1.0, True, 0.2)
    SPOKEN.clear()  # the model speaks it again, not the kept pieces
    two, _ = tts.speak_piper(text, tts.DEFAULT_VOICE, 1.0, True, 0.2)
    assert isinstance(one, Pcm16Audio) and one.nbytes == 2 * one.frames
    assert np.array_equal(one.codes, two.codes)


def test_a_sentence_sounds_the_same_alone_and_beside_other_calls():
    """Calls of the same voice overlap (scenes and pieces side by side, two threads
    each on 2 cores): a sentence's samples must not depend on what else runs."""
    from concurrent.futures import ThreadPoolExecutor

    sentence = "This short video was made just for you, in Leeds."
    others = [
        "A script is split into scenes at each heading, and every scene gets a card.",
        "The result is a video file that plays anywhere.",
    ]
    from reelgraph.nodes.spoken_pieces import SPOKEN

    alone, _ = tts.speak_piper(sentence, tts.DEFAULT_VOICE, 1.0, True, 0.0)
    SPOKEN.clear()  # spoken by the model again, beside the others
    with ThreadPoolExecutor(3) as pool:
        beside = [
            pool.submit(tts.speak_piper, t, tts.DEFAULT_VOICE, 1.0, True, 0.0) for t in others
        ]
        crowded, _ = pool.submit(
            tts.speak_piper, sentence, tts.DEFAULT_VOICE, 1.0, True, 0.0
        ).result()
        for f in beside:
            f.result()
    assert tts.sentence_workers() >= 2 or tts.process_cores() < 2  # calls did overlap
    assert np.array_equal(alone.codes, crowded.codes)
