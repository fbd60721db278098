"""The shipped generative workflows validate and run on the tiny models."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelgraph.engine import WorkflowError, load_workflow

ROOT = Path(__file__).resolve().parents[2]
TXT2VID = ROOT / "reelgraph" / "workflows" / "txt2vid.json"
STORY = ROOT / "reelgraph" / "workflows" / "story.json"
SCRIPT = (
    "# Dawn\nVisual: a quiet harbour at dawn\nThe harbour wakes up slowly.\n\n"
    "# Night\nVisual: a city street at night\nAt night the lights come on.\n"
)


def probe(path: Path) -> dict:
    import av

    with av.open(str(path)) as f:
        v = f.streams.video[0]
        frames = sum(1 for _ in f.decode(video=0))
        return {
            "width": v.codec_context.width,
            "height": v.codec_context.height,
            "frames": frames,
            "audio": len(f.streams.audio),
            "duration": float(f.duration or 0) / 1e6,
        }


def test_shipped_defaults_name_the_missing_models(registry, models_dir):
    from reelgraph.engine import Engine

    with Engine(registry) as eng, pytest.raises(WorkflowError) as info:
        eng.plan(load_workflow(STORY))
    missing = [i for i in info.value.issues if i.input == "model"]
    assert {i.node for i in missing} == {"still", "animate"}
    for nid in ("still", "animate"):  # each says which folder the model belongs in
        assert any(i.node == nid and str(models_dir / "diffusers") in i.message for i in missing), (
            missing
        )


def test_txt2vid_runs_on_tiny_ltx(runner):
    res = runner.run(
        {},
        wf=load_workflow(TXT2VID),
        params={
            "model": "tiny-ltx",
            "width": 64,
            "height": 32,
            "frames": 17,
            "steps": 2,
            "filename": "t2v",
        },
    )
    assert res.status == "finished", res.failed
    info = probe(Path(res.outputs["encode"]["path"]))
    assert (info["width"], info["height"], info["frames"]) == (64, 32, 17)


def test_txt2vid_wrong_frames_is_a_validation_error(runner):
    with pytest.raises(WorkflowError, match="8k\\+1"):
        runner.run(
            {},
            wf=load_workflow(TXT2VID),
            params={"model": "tiny-ltx", "width": 64, "height": 32, "frames": 16, "steps": 2},
        )


def test_story_script_to_narrated_subtitled_mp4(runner):
    res = runner.run(
        {},
        wf=load_workflow(STORY),
        params={
            "script": SCRIPT,
            "image_model": "tiny-sd",
            "video_model": "tiny-svd",
            "width": 64,
            "height": 64,
            "frames": 4,
            "image_steps": 2,
            "video_steps": 2,
            "filename": "story-test",
        },
        targets=["encode", "srt", "speak", "fit", "animate"],
    )
    assert res.status == "finished", {k: str(v) for k, v in res.failed.items()}
    clips = res.outputs["fit"]["video"]
    speech = res.outputs["speak"]["audio"]
    assert len(clips) == 2 and len(res.outputs["animate"]["video"]) == 2
    for clip, audio in zip(clips, speech, strict=True):
        # each generated 4-frame clip is stretched to its narration plus the tail
        assert clip.duration == pytest.approx(audio.duration + 0.5, abs=1 / clip.fps)
        assert clip.audio is not None
    info = probe(Path(res.outputs["encode"]["path"]))
    assert (info["width"], info["height"], info["audio"]) == (64, 64, 1)
    total = sum(c.duration for c in clips)
    assert info["duration"] == pytest.approx(total, abs=0.6)
    srt = Path(res.outputs["srt"]["path"]).read_text()
    assert "harbour" in srt and "lights" in srt
