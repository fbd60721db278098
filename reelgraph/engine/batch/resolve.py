"""WORKFLOW as `reelgraph run` takes it: a JSON file, a shipped workflow's name
("explainer"), or an MP4 / PNG / WAV that carries its workflow.

(The package CLI grows the same resolution for `run`; this small copy keeps batch
independent of it.)
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import Issue, WorkflowError
from ..workflow import Workflow, load_workflow, parse_workflow

MEDIA_SUFFIXES = {".mp4", ".mov", ".m4v", ".png", ".wav"}


def _embedded(path: Path) -> Workflow:
    doc = None
    suffix = path.suffix.lower()
    try:
        if suffix == ".png":
            from reelgraph.nodes.png import read_png_text

            raw = read_png_text(path.read_bytes()).get("reelgraph.workflow")
            doc = json.loads(raw) if raw else None
        elif suffix == ".wav":
            data = path.read_bytes()
            start = data.find(b'{"format": "reelgraph.workflow"')
            if start < 0:
                start = data.find(b'{"format":"reelgraph.workflow"')
            if start >= 0:
                doc, _ = json.JSONDecoder().raw_decode(data[start:].decode("utf-8", "replace"))
        else:
            from ..media.metadata import read_media_metadata

            doc = read_media_metadata(path)["workflow"]
    except (OSError, ValueError) as exc:
        raise WorkflowError([Issue("unreadable", f"cannot read: {exc}", file=str(path))]) from None
    if not isinstance(doc, dict):
        raise WorkflowError(
            [Issue("no_workflow", "this file carries no reelgraph workflow", file=str(path))]
        )
    return parse_workflow(doc, str(path))


def resolve_workflow(spec: str) -> Workflow:
    path = Path(spec)
    if path.is_file():
        return _embedded(path) if path.suffix.lower() in MEDIA_SUFFIXES else load_workflow(path)
    if path.suffix == "" and "/" not in spec and "\\" not in spec:
        from .. import resources
        from ..resources import workflows_folder

        # The package helper's resolver when this installation has it.
        find = getattr(resources, "shipped_workflow", None)
        try:
            shipped = find(spec) if find is not None else workflows_folder() / f"{spec}.json"
        except FileNotFoundError:
            shipped = None
        if shipped is not None and shipped.is_file():
            return load_workflow(shipped)
        names = []
        try:
            names = sorted(p.stem for p in workflows_folder().glob("*.json"))
        except FileNotFoundError:
            pass
        raise WorkflowError(
            [
                Issue(
                    "unreadable",
                    f"no file {spec!r} and no shipped workflow of that name "
                    f"(shipped: {', '.join(names) or 'none'})",
                    file=spec,
                )
            ]
        )
    return load_workflow(path)  # reports the missing file
