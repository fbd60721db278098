"""video.FitClip (once diffusion.FitClip): fitting a generated clip to its narration, and
documents saved with the old type id loading, running and saving as the new one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from reelgraph.engine import WorkflowError, load_workflow, loads_workflow

STORY = Path(__file__).resolve().parents[2] / "reelgraph" / "workflows" / "story.json"


def test_fit_clip_follows_narration():
    from reelgraph.engine.media import AudioClip, TensorVideo
    from reelgraph.nodes.video_fit import fit_clip, fit_indices

    assert fit_indices(3, 6, "slow") == [0, 0, 1, 1, 2, 2]
    assert fit_indices(3, 5, "hold") == [0, 1, 2, 2, 2]
    assert fit_indices(3, 7, "pingpong") == [0, 1, 2, 1, 0, 1, 2]
    frames = torch.arange(4, dtype=torch.uint8).view(4, 1, 1, 1).expand(4, 2, 2, 3).contiguous()
    clip = TensorVideo(frames, 8.0)
    audio = AudioClip(torch.zeros(1, 16000), 16000)  # 1 s
    out = fit_clip(clip, audio, tail=0.5, mode="loop")
    assert out.frame_count == 12 and out.audio.duration == pytest.approx(1.5)
    got = torch.cat(list(out.chunks(5)))[:, 0, 0, 0].tolist()
    assert got == [0, 1, 2, 3] * 3


def test_fit_clip_is_a_video_node(registry):
    assert "video.FitClip" in registry and "diffusion.FitClip" not in registry
    assert registry["video.FitClip"].pack == "reelgraph.nodes.video_fit"


def old_id_doc() -> dict:
    """A document as saved before the move: a 4-frame clip fitted to 2 s with the old id."""
    return {
        "format": "reelgraph.workflow",
        "version": 1,
        "nodes": {
            "still": {"type": "image.Solid", "inputs": {"width": 16, "height": 8}},
            "clip": {
                "type": "video.ImageToClip",
                "inputs": {"image": {"from": "still", "output": "image"}, "duration": 0.5},
            },
            "fit": {
                "type": "diffusion.FitClip",
                "type_version": 1,
                "inputs": {
                    "video": {"from": "clip", "output": "video"},
                    "seconds": 2.0,
                    "mode": "hold",
                },
                "ui": {"pos": [10, 20], "title": "Fit to voice"},
                "x-custom": {"kept": True},
            },
        },
    }


def test_old_type_id_loads_runs_and_saves_as_the_new_one(registry, tmp_path):
    from reelgraph.engine import Cache, Engine

    wf = loads_workflow(json.dumps(old_id_doc()))
    fit = wf.nodes["fit"]
    assert fit["type"] == "video.FitClip"
    # only the type changed: everything else the node carried is kept
    assert fit["ui"] == {"pos": [10, 20], "title": "Fit to voice"}
    assert fit["x-custom"] == {"kept": True} and fit["inputs"]["mode"] == "hold"
    assert '"diffusion.FitClip"' not in wf.to_json()
    with Engine(registry, Cache()) as eng:
        res = eng.run(wf, targets=["fit"], out_dir=tmp_path)
    assert res.status == "finished", res.failed
    video = res.outputs["fit"]["video"]
    assert video.frame_count == round(2.0 * video.fps)  # the 0.5 s clip, held to 2 s


def test_shipped_story_loads_with_every_type_known(registry):
    raw = json.loads(STORY.read_text())
    old = [nid for nid, n in raw["nodes"].items() if n.get("type") == "diffusion.FitClip"]
    wf = load_workflow(STORY)
    for nid in old:  # saved with the old id: loads as the new one
        assert wf.nodes[nid]["type"] == "video.FitClip"
    assert all(n["type"] in registry for n in wf.nodes.values())


def test_a_malformed_type_is_reported_not_a_crash_of_the_rename():
    doc = old_id_doc()
    doc["nodes"]["fit"]["type"] = ["diffusion.FitClip"]
    with pytest.raises(WorkflowError, match="needs a 'type' string"):
        loads_workflow(json.dumps(doc))
