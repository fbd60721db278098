"""The node from docs/nodes.md works as a custom node, exactly as written."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from reelgraph import Engine, Registry, Workflow

ROOT = Path(__file__).resolve().parents[2]


def test_the_guide_example_node_loads_and_runs(tmp_path):
    text = (ROOT / "docs" / "nodes.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    folder = tmp_path / "custom_nodes"
    folder.mkdir()
    (folder / "vignette.py").write_text(code)
    reg = Registry.discover(custom_nodes=[folder])
    assert not reg.load_errors and "mypack.Vignette" in reg
    assert sum(1 for line in code.strip().splitlines() if line.strip()) <= 16
    wf = Workflow(
        {
            "format": "reelgraph.workflow",
            "version": 1,
            "nodes": {
                "s": {
                    "type": "image.Solid",
                    "inputs": {"width": 16, "height": 16, "color": "#ffffff"},
                },
                "v": {
                    "type": "mypack.Vignette",
                    "inputs": {"image": {"from": "s", "output": "image"}, "strength": 0.5},
                },
            },
        }
    )
    out = Engine(reg, out_dir=tmp_path).run(wf, targets=["v"]).outputs["v"]["image"]
    assert out.shape == (1, 16, 16, 3)
    assert out[0, 8, 8].min() > 0.9 and out[0, 0, 0].max() < 0.6  # centre bright, corners dark
    assert torch.all(out <= 1)
