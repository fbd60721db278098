"""The voice keeps onnxruntime's arena between short calls and gives it back once it
rests (nodes/voice_arena.py): the samples are the same as with the arena shrunk after
every call, the release comes after the idle time and not before, the memory is
really handed back, and a long call hands its own back when it ends."""

from __future__ import annotations

import time

import numpy as np
import psutil
import pytest

from reelgraph.engine.media.heap import keep_big_buffers_off_the_heap
from reelgraph.nodes import tts
from reelgraph.nodes.voice_arena import KEEP_IDS, ReleasingSession, tiny_feeds

SENTENCES = [
    "Hi Ada!",
    "This short video was made just for you, in Tiruchirappalli.",  # 139 phoneme ids
    "Every heading becomes a scene, with its own title card and its own voice, "
    "and the subtitles follow.",  # 213: over KEEP_IDS
]


@pytest.fixture(scope="module")
def voice():
    keep_big_buffers_off_the_heap()  # as an Engine does: freed buffers go back to the system
    return tts.load_piper(tts.DEFAULT_VOICE)


def _feeds(voice, text: str) -> dict[str, np.ndarray]:
    """The inputs Piper gives its model for `text` (one sentence)."""
    [phonemes] = voice.phonemize(text)
    ids = voice.phonemes_to_ids(phonemes)
    return {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": np.array([0.0, 1.0, 0.0], dtype=np.float32),
    }


def _wait_for(check, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.02)
    return check()


def _raw(voice):
    """The onnxruntime session under the voice's own ReleasingSession."""
    return voice.session._session


def test_samples_equal_and_release_after_rest(voice):
    import onnxruntime

    shrink_each = onnxruntime.RunOptions()
    shrink_each.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    # idle times with room to spare: a loaded CI machine may stall a thread for tenths
    session = ReleasingSession(_raw(voice), release_after_s=1.0)
    try:
        for _ in range(2):  # before the first release and after it
            for text in SENTENCES[::-1]:  # the long call first: short ones keep after it
                kept = session.run(None, _feeds(voice, text))
                shrunk = _raw(voice).run(None, _feeds(voice, text), shrink_each)
                assert all(np.array_equal(a, b) for a, b in zip(kept, shrunk, strict=True))
            released = session.releases
            # calls that follow one another keep the arena ...
            time.sleep(0.1)
            assert session.releases == released
            # ... and it is given back once the voice has rested
            assert _wait_for(lambda r=released: session.releases == r + 1)
        time.sleep(1.2)
        assert session.releases == 2  # one release per rest, not one per timer
    finally:
        session.close()


def test_a_call_in_the_idle_time_puts_the_release_off(voice):
    session = ReleasingSession(_raw(voice), release_after_s=1.2)
    try:
        for _ in range(4):
            session.run(None, _feeds(voice, SENTENCES[0]))
            time.sleep(0.3)  # each call comes before the voice has rested long enough
        assert session.releases == 0
        assert _wait_for(lambda: session.releases == 1)
    finally:
        session.close()


def test_release_gives_the_memory_back(voice):
    proc = psutil.Process()
    session = ReleasingSession(_raw(voice), release_after_s=1.0)
    try:
        # first, a rest: what an earlier test's calls left is handed back
        session.run(None, _feeds(voice, SENTENCES[0]))
        assert _wait_for(lambda: session.releases == 1)
        before = proc.memory_info().rss
        assert _feeds(voice, SENTENCES[1])["input"].size <= KEEP_IDS
        session.run(None, _feeds(voice, SENTENCES[1]))
        held = proc.memory_info().rss
        assert _wait_for(lambda: session.releases == 2)
        after = proc.memory_info().rss
        # a long call gives its buffers back as it ends, with no wait
        assert _feeds(voice, SENTENCES[2])["input"].size > KEEP_IDS
        session.run(None, _feeds(voice, SENTENCES[2]))
        after_long = proc.memory_info().rss
    finally:
        session.close()
    # a 60-character sentence's working memory: tens of MB, kept, then given back
    assert held - before > 20e6, (before, held)
    assert held - after > 20e6, (held, after)
    assert after_long - after < 10e6, (after, after_long)


def test_a_long_call_first_hands_back_what_short_ones_kept(voice):
    session = ReleasingSession(_raw(voice), release_after_s=30.0)
    try:
        session.run(None, _feeds(voice, SENTENCES[1]))
        assert session.releases == 0  # kept: the rest is far off
        session.run(None, _feeds(voice, SENTENCES[2]))
        assert session.releases == 1  # given back before the long call
        session.run(None, _feeds(voice, SENTENCES[2]))
        assert session.releases == 1  # nothing was kept since
    finally:
        session.close()


def test_close_stops_the_timer(voice):
    session = ReleasingSession(_raw(voice), release_after_s=0.3)
    session.run(None, _feeds(voice, SENTENCES[0]))
    session.close()
    time.sleep(0.5)
    assert session.releases == 0
    # after close every call shrinks the arena itself: no timer is armed
    session.run(None, _feeds(voice, SENTENCES[0]))
    assert session._timer is None


def test_a_model_with_other_inputs_shrinks_every_call():
    """A model whose inputs are not Piper's has no tiny call to release with: each of
    its calls shrinks the arena, as before, and no timer is armed."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    raw = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    assert tiny_feeds({"x": np.zeros(3, np.float32)}) is None
    session = ReleasingSession(raw, release_after_s=0.1)
    x = np.array([-1.0, 2.0], np.float32)
    assert session.run(None, {"x": x})[0].tolist() == [0.0, 2.0]
    assert session._timer is None
    time.sleep(0.3)
    assert session.releases == 0


EXIT_WHILE_RELEASING = """
import time
from reelgraph.nodes import tts
from reelgraph.nodes.voice_arena import ReleasingSession
import numpy as np

voice = tts.load_piper(tts.DEFAULT_VOICE)
[phonemes] = voice.phonemize({text!r})
ids = voice.phonemes_to_ids(phonemes)
feeds = {{
    "input": np.array([ids], dtype=np.int64),
    "input_lengths": np.array([len(ids)], dtype=np.int64),
    "scales": np.array([0.0, 1.0, 0.0], dtype=np.float32),
}}
session = ReleasingSession(voice.session._session, release_after_s=0.05)
short = {{**feeds, "input": feeds["input"][:, :40], "input_lengths": np.array([40])}}
session.run(None, short)
session._tiny = feeds  # a release that lasts: the process ends while it runs
time.sleep(0.15)
print("exiting", session._resting)
"""


def test_the_process_ends_cleanly_while_a_release_runs(tmp_path):
    """The interpreter must not stop while onnxruntime runs on the timer's thread
    (that aborted the process: 'terminate called without an active exception')."""
    import subprocess
    import sys

    script = tmp_path / "exit.py"
    script.write_text(EXIT_WHILE_RELEASING.format(text=SENTENCES[2] * 3))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "exiting True"  # the release was running at the end
