"""Building workflows in tests."""

from __future__ import annotations

from typing import Any

from reelgraph.engine import Registry, Workflow

from . import testnodes


def link(node: str, output: str) -> dict[str, str]:
    return {"from": node, "output": output}


def workflow(nodes: dict[str, dict[str, Any]], **extra: Any) -> Workflow:
    doc = {"format": "reelgraph.workflow", "version": 1, "nodes": nodes}
    doc.update(extra)
    return Workflow(doc)


def n(type_: str, **inputs: Any) -> dict[str, Any]:
    return {"type": type_, "inputs": inputs}


def registry() -> Registry:
    reg = Registry()
    reg.load_entry_points()
    reg.add_module(testnodes)
    return reg
