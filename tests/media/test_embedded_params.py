"""PNG and WAV outputs carry every param value of their run, including params that no
node input targets (text.Template reads them): the file re-runs as the run that made it."""

from __future__ import annotations

import json
from pathlib import Path

from reelgraph.engine import Cache, Engine, MemoryCache, Workflow
from reelgraph.engine.cli import open_workflow
from reelgraph.engine.media.metadata import embedded_workflow_text


def _workflow() -> Workflow:
    return Workflow(
        {
            "format": "reelgraph.workflow",
            "version": 1,
            "name": "hello-card",
            "params": {"name": {"type": "TEXT", "default": "nobody"}},
            "nodes": {
                "t": {"type": "text.Template", "inputs": {"template": "Hello {name}"}},
                "card": {
                    "type": "slides.TitleCard",
                    "inputs": {"title": {"from": "t", "output": "text"}, "width": 160,
                               "height": 90},
                },
                "png": {"type": "image.SavePNG",
                        "inputs": {"image": {"from": "card", "output": "image"}, "prefix": "card"}},
                "quiet": {"type": "audio.Silence", "inputs": {"seconds": 0.2}},
                "wav": {"type": "audio.SaveWAV",
                        "inputs": {"audio": {"from": "quiet", "output": "audio"}, "filename": "q"}},
            },
        }
    )  # fmt: skip


def _run(wf: Workflow, out: Path, **params: object) -> Path:
    with Engine(cache=Cache(MemoryCache()), out_dir=out) as engine:
        result = engine.run(wf, params=params)
    assert result.ok, result.failed
    return out


def test_png_and_wav_embed_untargeted_params_and_rerun_as_made(tmp_path: Path) -> None:
    out = _run(_workflow(), tmp_path / "grace", name="Grace")
    for name in ("card_00000.png", "q.wav"):
        embedded = json.loads(embedded_workflow_text(out / name) or "{}")
        assert embedded["params"]["name"]["default"] == "Grace", name
    # `reelgraph run card_00000.png` opens the workflow it carries: it makes Grace's card,
    # not the default's
    again = _run(open_workflow(str(out / "card_00000.png")), tmp_path / "again")
    default = _run(_workflow(), tmp_path / "default")
    card = (out / "card_00000.png").read_bytes()
    assert (again / "card_00000.png").read_bytes() == card
    assert (default / "card_00000.png").read_bytes() != card
