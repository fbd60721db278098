"""Relative asset paths of a template, for everything the server runs from one by name.

A shipped template names its assets relative to its own file (`assets/logo.png`); the
engine resolves those beside the document (engine/docpaths.py). Params are the user's
and are never rewritten, with one exception made here: a param value that is exactly
the document's own value for it (its default, or the literal its target input holds) is
the document's value, echoed back. The app form sends every field, defaults included,
so without this a shipped workflow run from its form, a batch or a thumbnail would look
for `assets/logo.png` in the server's working folder instead of beside the template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reelgraph.engine.docpaths import resolve_document_paths, resolve_path
from reelgraph.engine.workflow import Workflow, is_link


def with_template_paths(wf: Workflow, path: Path | None) -> Workflow:
    """`wf` with the relative paths that exist beside its file `path` made absolute."""
    if path is None:
        return wf
    return resolve_document_paths(Workflow(wf.doc, str(path)))


def _own_values(doc: dict[str, Any], name: str) -> list[Any]:
    params = doc.get("params") if isinstance(doc.get("params"), dict) else {}
    p = params.get(name)
    if not isinstance(p, dict):
        return []
    own = [p["default"]] if "default" in p else []
    node = (doc.get("nodes") or {}).get(p.get("node"))
    inputs = node.get("inputs") if isinstance(node, dict) else None
    if isinstance(inputs, dict) and p.get("input") in inputs and not is_link(inputs[p["input"]]):
        own.append(inputs[p["input"]])
    return own


def own_params_resolved(
    doc: dict[str, Any], params: dict[str, Any], path: Path | None
) -> dict[str, Any]:
    """`params` with each value that equals the document's own value for that param
    resolved beside the document file `path` (see the module docstring)."""
    if path is None or not params:
        return params
    base = Path(path).absolute().parent
    out = dict(params)
    for name, value in params.items():
        if isinstance(value, str) and value in _own_values(doc, name):
            out[name] = resolve_path(value, base)
    return out
