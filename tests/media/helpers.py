"""Build small workflows in tests."""

from __future__ import annotations

import json
from typing import Any


def link(node: str, output: str) -> dict[str, str]:
    return {"from": node, "output": output}


def workflow(nodes: dict[str, tuple[str, dict[str, Any]]]) -> Any:
    from reelgraph.engine import loads_workflow

    doc = {
        "format": "reelgraph.workflow",
        "version": 1,
        "name": "test",
        "nodes": {
            nid: {"type": t, "type_version": 1, "inputs": inputs, "ui": {"pos": [i * 200, 0]}}
            for i, (nid, (t, inputs)) in enumerate(nodes.items())
        },
    }
    return loads_workflow(json.dumps(doc))
