"""Relative file paths in a workflow document resolve against the document's folder.

The rule (docs/workflow-format.md, "File paths"): a relative path in a literal
input value or a param default means the same file it meant when it was written:

1. relative to the current folder, if it exists there (what a user typing paths at
   a shell expects, and what older documents relied on);
2. otherwise relative to the folder of the document, if it exists there (so a shipped
   workflow's `assets/slides` works from any folder and from an installed wheel,
   and a project folder holding a workflow and its media can be moved as a whole).

Only strings that look like paths are considered (they contain a `/` or have a file
suffix, fit on one line and are not URLs), and only ones that name an existing file or
folder beside the document are rewritten, to that file's absolute path. A value from
`--set` or a batch row is the user's, relative to where they ran the command: params
are applied after this step, so they are never rewritten.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .workflow import Workflow, is_link

_MAX_PATH_CHARS = 4096


def _looks_like_path(value: str) -> bool:
    if not value or len(value) > _MAX_PATH_CHARS or "\n" in value or "\0" in value:
        return False
    if "://" in value or value.startswith("~") or os.path.isabs(value):
        return False
    return "/" in value or os.sep in value or bool(Path(value).suffix)


def resolve_path(value: Any, base: Path) -> Any:
    """`value` made absolute against `base` when the rule above says it is a path there."""
    if not isinstance(value, str) or not _looks_like_path(value):
        return value
    try:
        if os.path.exists(value):
            return value
        candidate = base / value
        if candidate.exists():
            return os.path.normpath(candidate)
    except (OSError, ValueError):  # a name too long for the file system, say
        pass
    return value


def _resolved(value: Any, base: Path) -> Any:
    if isinstance(value, list):
        return [_resolved(v, base) for v in value]
    return resolve_path(value, base)


def resolve_document_paths(workflow: Workflow) -> Workflow:
    """The workflow with relative paths that exist beside its file made absolute.

    Returns `workflow` itself when it has no file or nothing changes; a copy otherwise,
    so the document a caller holds (and might save) keeps the paths as written."""
    if not workflow.file:
        return workflow
    base = Path(workflow.file).absolute().parent
    node_changes: list[tuple[str, str, Any]] = []
    for nid, entry in workflow.nodes.items():
        inputs = entry.get("inputs") if isinstance(entry, dict) else None
        for name, value in (inputs or {}).items() if isinstance(inputs, dict) else ():
            if not is_link(value) and (new := _resolved(value, base)) != value:
                node_changes.append((nid, name, new))
    param_changes: list[tuple[str, Any]] = []
    for name, p in workflow.params.items():
        if not isinstance(p, dict) or "default" not in p:
            continue
        if (new := _resolved(p["default"], base)) != p["default"]:
            param_changes.append((name, new))
    if not node_changes and not param_changes:
        return workflow
    out = workflow.copy()
    out.param_values = dict(workflow.param_values)
    for nid, name, new in node_changes:
        out.nodes[nid]["inputs"][name] = new
    for name, new in param_changes:
        out.params[name]["default"] = new
    return out
