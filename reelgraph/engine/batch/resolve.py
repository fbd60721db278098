"""WORKFLOW as `reelgraph batch` takes it: anything `reelgraph run` takes (a JSON file, a
shipped workflow's name such as "explainer", or an MP4 / PNG / WAV that carries its
workflow). One implementation for both commands: `reelgraph.engine.sources`."""

from __future__ import annotations

from ..sources import open_workflow
from ..workflow import Workflow


def resolve_workflow(spec: str) -> Workflow:
    return open_workflow(spec)
