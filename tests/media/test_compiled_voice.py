"""A voice's graph is patched and optimised once per machine: the first load saves it
(staged, then renamed), later loads open the saved file, and every form speaks the
same samples as the voice patched and optimised in memory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from reelgraph.models import COMPILED_ENV
from reelgraph.nodes import tts

SENTENCES = [
    "Hi Ada! This short video was made just for you, in London.",
    "Every heading becomes a scene, with its own title card and its own voice.",
]


def _speak(voice) -> list[np.ndarray]:
    return [audio for audio, _ in _speak_with_timings(voice)]


def _speak_with_timings(voice) -> list[tuple[np.ndarray, list[tuple[str, int]]]]:
    """Each sentence's samples, and its phonemes with how many samples each lasts."""
    from piper import SynthesisConfig

    cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    out = []
    for s in SENTENCES:
        chunks = list(voice.synthesize(s, cfg, include_alignments=True))
        audio = np.concatenate([c.audio_float_array for c in chunks])
        timings = [(a.phoneme, a.num_samples) for c in chunks for a in c.phoneme_alignments or []]
        out.append((audio, timings))
    return out


def _in_memory_voice():
    """The voice as it was loaded before compiled files: patched and fully optimised
    in memory."""
    import json

    import onnx
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig
    from piper.patch_voice_with_alignment import add_alignment_output
    from piper.voice import ESPEAK_DATA_DIR

    model, config = tts.piper_files(tts.DEFAULT_VOICE)
    proto = onnx.load(str(model))
    add_alignment_output(proto)
    session = onnxruntime.InferenceSession(
        proto.SerializeToString(),
        sess_options=tts.piper_session_options(),
        providers=["CPUExecutionProvider"],
    )
    return PiperVoice(
        config=PiperConfig.from_dict(json.loads(Path(config).read_text())),
        session=session,
        espeak_data_dir=Path(ESPEAK_DATA_DIR),
    )


@pytest.fixture()
def compiled_here(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(COMPILED_ENV, str(tmp_path / "compiled"))
    # the portable form (two-thread sessions) unless a test asks for one thread, also on
    # a one-core machine, where one thread would be the default
    monkeypatch.setenv("REELGRAPH_VOICE_THREADS", "2")
    return tmp_path / "compiled"


def test_the_first_load_saves_the_voice_and_later_loads_speak_the_same(compiled_here):
    model, config = (Path(p) for p in tts.piper_files(tts.DEFAULT_VOICE))
    target = tts.compiled_voice_path(model)
    assert target.parent.parent == compiled_here and not target.exists()

    first = tts._open_piper(model, config)
    assert target.is_file() and target.stat().st_size > 1_000_000
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # nothing staged left
    stamp = target.stat().st_mtime_ns
    again = tts._open_piper(model, config)
    assert target.stat().st_mtime_ns == stamp  # opened, not made again

    reference = _speak(_in_memory_voice())
    for got in (_speak(first), _speak(again)):
        assert all(np.array_equal(a, b) for a, b in zip(got, reference, strict=True))


def test_a_damaged_compiled_voice_is_made_again(compiled_here):
    model, config = (Path(p) for p in tts.piper_files(tts.DEFAULT_VOICE))
    target = tts.compiled_voice_path(model)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not an onnx graph")
    voice = tts._open_piper(model, config)
    assert target.stat().st_size > 1_000_000
    assert all(
        np.array_equal(a, b) for a, b in zip(_speak(voice), _speak(_in_memory_voice()), strict=True)
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_place_still_gives_a_voice(compiled_here):
    compiled_here.mkdir()
    compiled_here.chmod(0o500)
    try:
        model, config = (Path(p) for p in tts.piper_files(tts.DEFAULT_VOICE))
        voice = tts._open_piper(model, config)
        assert _speak(voice)[0].size > 0
        assert list(compiled_here.iterdir()) == []
    finally:
        compiled_here.chmod(0o700)


def test_a_folder_that_cannot_be_made_still_gives_a_voice(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the folder would go")
    monkeypatch.setenv(COMPILED_ENV, str(blocker / "compiled"))
    model, config = (Path(p) for p in tts.piper_files(tts.DEFAULT_VOICE))
    voice = tts._open_piper(model, config)
    assert _speak(voice)[0].size > 0
    assert not (blocker / "compiled").exists()


def test_a_one_thread_voice_keeps_its_decoder_in_the_blocked_layout(compiled_here, monkeypatch):
    """One-thread sessions (a batch's rows) get the decoder lifted to 2-D convolutions
    in onnxruntime's blocked layout (voice_layout.py), saved apart from the portable
    form under a name that says which processor. The phoneme timings are the model's
    exactly; the samples differ from the 1-D graph's in the last bits only."""
    import onnx

    monkeypatch.setenv("REELGRAPH_VOICE_THREADS", "1")
    model, config = (Path(p) for p in tts.piper_files(tts.DEFAULT_VOICE))
    target = tts.compiled_voice_path(model, blocked=True)
    assert target != tts.compiled_voice_path(model)

    first = tts._open_piper(model, config)
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    stamp = target.stat().st_mtime_ns
    again = tts._open_piper(model, config)
    assert target.stat().st_mtime_ns == stamp  # opened, not made again
    saved = onnx.load(str(target), load_external_data=False)
    blocked = [n for n in saved.graph.node if n.domain == "com.microsoft.nchwc"]
    assert sum(n.op_type == "Conv" for n in blocked) >= 15  # the decoder's convolutions
    del saved

    reference = _speak_with_timings(_in_memory_voice())  # 1-D, one thread
    got, got_again = _speak_with_timings(first), _speak_with_timings(again)
    for (audio, timings), (audio2, timings2), (ref, ref_timings) in zip(
        got, got_again, reference, strict=True
    ):
        assert np.array_equal(audio, audio2) and timings == timings2
        assert timings == ref_timings and len(timings) > 30
        assert audio.shape == ref.shape
        assert float(np.max(np.abs(audio - ref))) < 1e-4 < float(np.max(np.abs(ref)))
