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
    from piper import SynthesisConfig

    cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    return [
        np.concatenate([c.audio_float_array for c in voice.synthesize(s, cfg)]) for s in SENTENCES
    ]


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
