"""Bad inputs give clear errors that name the node and the input."""

from __future__ import annotations

import pytest

from reelgraph.engine import WorkflowError

from .helpers import link, workflow


def _issue(exc: WorkflowError, node: str, input: str):
    hits = [i for i in exc.issues if i.node == node and i.input == input and i.severity == "error"]
    assert hits, [str(i) for i in exc.issues]
    return hits[0]


@pytest.mark.parametrize(
    ("node_type", "output"),
    [("image.Load", "image"), ("video.Load", "video"), ("audio.Load", "audio")],
)
def test_missing_file_is_a_validation_error(engine, tmp_path, node_type, output):
    missing = tmp_path / "nope.bin"
    wf = workflow(
        {
            "load": (node_type, {"path": str(missing)}),
            "info": ("video.Info", {"video": link("load", output)}),
        }
        if node_type == "video.Load"
        else {"load": (node_type, {"path": str(missing)})}
    )
    with pytest.raises(WorkflowError) as err:
        engine.run(wf, out_dir=tmp_path, targets=["load"])
    issue = _issue(err.value, "load", "path")
    assert "no such file" in issue.message and "nope.bin" in issue.message


def test_corrupt_video_fails_on_its_input(engine, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 500)
    wf = workflow(
        {
            "load": ("video.Load", {"path": str(bad)}),
            "info": ("video.Info", {"video": link("load", "video")}),
        }
    )
    res = engine.run(wf, out_dir=tmp_path)
    assert res.status == "failed"
    f = res.failed["load"]
    assert (f.node_type, f.input) == ("video.Load", "path")
    assert "broken.mp4" in f.message and "cannot read" in f.message
    assert "info" in res.skipped


def test_corrupt_audio_fails_on_its_input(engine, tmp_path):
    bad = tmp_path / "noise.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" * 20)
    res = engine.run(workflow({"load": ("audio.Load", {"path": str(bad)})}), out_dir=tmp_path)
    assert res.failed["load"].input == "path"


def test_empty_script(engine, tmp_path):
    wf = workflow(
        {
            "script": ("text.Script", {"text": "  \n\n "}),
            "split": ("text.SplitScenes", {"text": link("script", "text")}),
        }
    )
    res = engine.run(wf, out_dir=tmp_path)
    f = res.failed["split"]
    assert (f.node_id, f.input) == ("split", "text") and "empty" in f.message


def test_zero_duration_clip(engine, tmp_path):
    wf = workflow(
        {
            "img": ("image.Solid", {"width": 64, "height": 48}),
            "clip": ("video.ImageToClip", {"image": link("img", "image"), "duration": 0.0}),
            "info": ("video.Info", {"video": link("clip", "video")}),
        }
    )
    res = engine.run(wf, out_dir=tmp_path)
    f = res.failed["clip"]
    assert f.input == "duration" and "0 seconds" in f.message


def test_unknown_voice(engine, tmp_path):
    wf = workflow({"speak": ("tts.Speak", {"text": "Hello.", "voice": "xx_XX-nobody-low"})})
    with pytest.raises(WorkflowError) as err:
        engine.run(wf, out_dir=tmp_path)
    issue = _issue(err.value, "speak", "voice")
    assert "xx_XX-nobody-low" in issue.message


def test_speak_empty_text(engine, tmp_path):
    res = engine.run(workflow({"speak": ("tts.Speak", {"text": ""})}), out_dir=tmp_path)
    assert res.failed["speak"].input == "text"


def test_coqui_voice_without_package_says_what_to_install(tmp_path, monkeypatch):
    from reelgraph.engine import NodeInputError
    from reelgraph.nodes import tts

    (tmp_path / "tts" / "myvoice").mkdir(parents=True)
    monkeypatch.setenv("REELGRAPH_MODELS", str(tmp_path))
    assert "coqui:myvoice" in tts.voice_options()
    try:
        import TTS  # noqa: F401

        pytest.skip("coqui-tts is installed here")
    except Exception:
        pass
    with pytest.raises(NodeInputError) as err:
        tts.speak("Hello.", voice="coqui:myvoice")
    assert err.value.input == "voice" and "coqui-tts" in str(err.value)


def test_bad_encode_filename(engine, tmp_path):
    wf = workflow(
        {
            "img": ("image.Solid", {"width": 64, "height": 48}),
            "clip": ("video.ImageToClip", {"image": link("img", "image"), "duration": 0.5}),
            "enc": ("video.Encode", {"video": link("clip", "video"), "filename": "../escape"}),
        }
    )
    with pytest.raises(WorkflowError) as err:
        engine.run(wf, out_dir=tmp_path)
    _issue(err.value, "enc", "filename")
