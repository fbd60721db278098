"""The workflow JSON document: load, check its shape, migrate, apply params, save.

One document serves the editor and headless runs. Loading and saving never
loses data: the document is kept as the parsed JSON object, unknown keys and
unknown node types included, and only the keys a migration or an edit names
are touched. See docs/workflow-format.md.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .errors import Issue, WorkflowError

FORMAT = "reelgraph.workflow"
CURRENT_VERSION = 1
PARAM_TYPES = ("TEXT", "INT", "FLOAT", "BOOL")


def is_link(value: Any) -> bool:
    """A link is an object with "from" (node id) and "output" (output name)."""
    return isinstance(value, dict) and "from" in value


class Workflow:
    """A workflow document. `doc` is the whole JSON object, kept verbatim."""

    def __init__(self, doc: dict[str, Any], file: str | None = None):
        self.doc = doc
        self.file = file
        # Resolved param values of a run (set by apply_params); not part of the document.
        self.param_values: dict[str, Any] = {}

    @property
    def name(self) -> str:
        return str(self.doc.get("name") or (Path(self.file).stem if self.file else "workflow"))

    @property
    def nodes(self) -> dict[str, dict[str, Any]]:
        return self.doc["nodes"]

    @property
    def params(self) -> dict[str, dict[str, Any]]:
        return self.doc.get("params") or {}

    def copy(self) -> Workflow:
        return Workflow(copy.deepcopy(self.doc), self.file)

    def to_json(self) -> str:
        return json.dumps(self.doc, indent=2, ensure_ascii=False) + "\n"


# --- migrations --------------------------------------------------------------


def _migrate_0_to_1(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 0 (the pre-release draft) wrote links as ["node", "output"] arrays and
    named the node type "class_type". Arrays were ambiguous with list literals, so v1
    makes a link an object. A two-item list of strings whose first item is an
    existing node id is read as a link; anything else stays a literal."""
    nodes = doc.get("nodes")
    if isinstance(nodes, dict):
        for entry in nodes.values():
            if not isinstance(entry, dict):
                continue
            if "type" not in entry and "class_type" in entry:
                entry["type"] = entry.pop("class_type")
            inputs = entry.get("inputs")
            if not isinstance(inputs, dict):
                continue
            for name, value in list(inputs.items()):
                if (
                    isinstance(value, list)
                    and len(value) == 2
                    and all(isinstance(v, str) for v in value)
                    and value[0] in nodes
                ):
                    inputs[name] = {"from": value[0], "output": value[1]}
    doc["version"] = 1
    return doc


# version -> step that turns a document of that version into the next one.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _migrate_0_to_1}

# Node types that moved to another id (old id -> new id). Applied to documents of every
# version, so a workflow saved with an old id loads, runs and saves as the new one.
RENAMED_TYPES: dict[str, str] = {
    "diffusion.FitClip": "video.FitClip",  # a video node, once in the generative pack
}


def _rename_types(doc: dict[str, Any]) -> dict[str, Any]:
    nodes = doc.get("nodes")
    if isinstance(nodes, dict):
        for entry in nodes.values():
            old = entry.get("type") if isinstance(entry, dict) else None
            if isinstance(old, str) and old in RENAMED_TYPES:  # a bad type: check_shape says so
                entry["type"] = RENAMED_TYPES[old]
    return doc


def migrate(doc: dict[str, Any], file: str | None = None) -> dict[str, Any]:
    version = doc.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise WorkflowError(
            [Issue("bad_version", f"version must be a whole number, got {version!r}", file=file)]
        )
    if version > CURRENT_VERSION:
        raise WorkflowError(
            [
                Issue(
                    "future_version",
                    f"this workflow is format version {version}; this reelgraph reads up to "
                    f"version {CURRENT_VERSION}: upgrade reelgraph to open it",
                    file=file,
                )
            ]
        )
    while version < CURRENT_VERSION:
        doc = MIGRATIONS[version](doc)
        version = doc["version"]
    return _rename_types(doc)


# --- shape -------------------------------------------------------------------


def check_shape(doc: Any, file: str | None = None) -> list[Issue]:
    """Structural problems that make the document unreadable as a workflow."""
    if not isinstance(doc, dict):
        return [
            Issue(
                "not_a_workflow",
                f"a workflow is a JSON object, got {type(doc).__name__}",
                file=file,
            )
        ]
    issues: list[Issue] = []
    fmt = doc.get("format")
    if fmt != FORMAT:
        issues.append(
            Issue("unknown_format", f"'format' must be {FORMAT!r}, got {fmt!r}", file=file)
        )
    nodes = doc.get("nodes")
    if not isinstance(nodes, dict):
        issues.append(Issue("bad_nodes", "'nodes' must be an object of node id -> node", file=file))
        return issues
    for node_id, entry in nodes.items():
        if not isinstance(entry, dict):
            issues.append(Issue("bad_node", "a node must be an object", node=node_id, file=file))
            continue
        if not isinstance(entry.get("type"), str) or not entry.get("type"):
            issues.append(
                Issue("bad_node", "a node needs a 'type' string", node=node_id, file=file)
            )
        inputs = entry.get("inputs", {})
        if not isinstance(inputs, dict):
            issues.append(Issue("bad_node", "'inputs' must be an object", node=node_id, file=file))
            continue
        for name, value in inputs.items():
            if is_link(value) and (
                not isinstance(value.get("from"), str) or not isinstance(value.get("output"), str)
            ):
                issues.append(
                    Issue(
                        "bad_link",
                        'a link is {"from": "<node id>", "output": "<output name>"}',
                        node=node_id,
                        input=name,
                        file=file,
                    )
                )
    params = doc.get("params", {})
    if not isinstance(params, dict):
        issues.append(Issue("bad_params", "'params' must be an object", file=file))
    else:
        for pname, p in params.items():
            # A param fills one node input; one without a target is only read by nodes
            # that use params (text templates).
            targeted = isinstance(p, dict) and ("node" in p or "input" in p)
            if not isinstance(p, dict) or (
                targeted
                and not (isinstance(p.get("node"), str) and isinstance(p.get("input"), str))
            ):
                issues.append(
                    Issue(
                        "bad_param",
                        f'param {pname!r} must be {{"node": id, "input": name, ...}} or {{"type": ..., "default": ...}}',
                        file=file,
                    )
                )
            elif p.get("type", "TEXT") not in PARAM_TYPES:
                issues.append(
                    Issue(
                        "bad_param",
                        f"param {pname!r} has type {p.get('type')!r}; use one of {PARAM_TYPES}",
                        file=file,
                    )
                )
    return issues


def parse_workflow(doc: Any, file: str | None = None) -> Workflow:
    """Check the shape and migrate; raises WorkflowError listing every structural problem."""
    if isinstance(doc, dict) and doc.get("format") == FORMAT:
        doc = migrate(doc, file)
    issues = check_shape(doc, file)
    if issues:
        raise WorkflowError(issues)
    return Workflow(doc, file)


def loads_workflow(text: str | bytes, file: str | None = None) -> Workflow:
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WorkflowError([Issue("bad_json", f"not valid JSON: {exc}", file=file)]) from None
    return parse_workflow(doc, file)


def load_workflow(path: str | os.PathLike[str]) -> Workflow:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise WorkflowError(
            [Issue("unreadable", f"cannot read: {exc.strerror or exc}", file=str(p))]
        ) from None
    return loads_workflow(data, str(p))


def _current_umask() -> int:
    # Read once at import (os.umask can only be read by setting it; not thread-safe later).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Write via a temp file in the same folder and rename: a crash never leaves half a file.
    The file gets the usual permissions (0666 less the umask), not mkstemp's 0600."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save_workflow(path: str | os.PathLike[str], workflow: Workflow) -> None:
    atomic_write(path, workflow.to_json().encode())


# --- params ------------------------------------------------------------------


def coerce_param(value: Any, type_name: str) -> Any:
    """Turn a `--set name=value` string (or a CSV cell) into the param's type."""
    if not isinstance(value, str) or type_name == "TEXT":
        return value
    text = value.strip()
    if type_name == "INT":
        return int(text)
    if type_name == "FLOAT":
        return float(text)
    if type_name == "BOOL":
        low = text.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true/false, got {value!r}")
    return value


def apply_params(workflow: Workflow, values: Mapping[str, Any]) -> Workflow:
    """A copy of the workflow with param values written into node inputs.

    A param that is not given keeps the value its node input has in the document (what
    the editor shows); its `default` fills the input only when the document has none,
    and is the value of a param without a target."""
    issues: list[Issue] = []
    params = workflow.params
    for name in values:
        if name not in params:
            known = ", ".join(sorted(params)) or "none"
            issues.append(
                Issue(
                    "unknown_param",
                    f"no param named {name!r} (params: {known})",
                    file=workflow.file,
                )
            )
    out = workflow.copy()
    for name, p in params.items():
        entry = None
        if "node" in p:
            entry = out.nodes.get(p["node"])
            if entry is None:
                issues.append(
                    Issue("param_target", f"param {name!r} points at missing node", node=p["node"])
                )
                continue
        inputs = entry.setdefault("inputs", {}) if entry is not None else {}
        if name in values:
            raw = values[name]
        elif entry is not None and p["input"] in inputs and not is_link(inputs[p["input"]]):
            out.param_values[name] = inputs[p["input"]]
            continue
        elif "default" in p:
            raw = p["default"]
        else:
            continue
        try:
            value = coerce_param(raw, p.get("type", "TEXT"))
        except ValueError as exc:
            issues.append(
                Issue(
                    "bad_param_value",
                    f"param {name!r}: {exc}",
                    node=p.get("node"),
                    input=p.get("input"),
                )
            )
            continue
        out.param_values[name] = value
        if entry is not None:
            inputs[p["input"]] = value
    if issues:
        raise WorkflowError(issues)
    return out
