"""The workflow JSON document: load, check its shape, migrate, apply params, save.

One document serves the editor and headless runs. Loading and saving never
loses data: the document is kept as the parsed JSON object, unknown keys and
unknown node types included, and only the keys a migration or an edit names
are touched. See docs/workflow-format.md.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

from .errors import Issue, WorkflowError

FORMAT = "reelgraph.workflow"
CURRENT_VERSION = 1
PARAM_TYPES = ("TEXT", "INT", "FLOAT", "BOOL")


@dataclass(frozen=True)
class Limits:
    """Caps on a workflow document, checked before and while it is parsed, so a hostile
    document costs bounded time and memory and never hits Python's recursion limit."""

    max_bytes: int = 32 << 20  # the whole document
    max_depth: int = 64  # objects and arrays inside one another
    max_string: int = 4 << 20  # characters in one string (key or value)
    max_int_digits: int = 100  # digits of one integer literal
    max_nodes: int = 200_000


DEFAULT_LIMITS = Limits()


@contextlib.contextmanager
def gc_paused(size: int, threshold: int = 100_000) -> Iterator[None]:
    """Pause the cycle collector while a large document (`size` bytes or nodes past
    `threshold`) is parsed or planned: those allocate many objects and no cycles, and
    repeated collections over them cost more than the work (2-5x measured on 100k nodes).
    Re-enabled only if it was on, so nested or concurrent pauses never leave it off."""
    if size < threshold or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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
        return Workflow(copy_json(self.doc), self.file)

    def to_json(self) -> str:
        return json.dumps(self.doc, indent=2, ensure_ascii=False) + "\n"


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON-like value, iterative (copy.deepcopy recurses: a deep
    document would raise RecursionError). Other values are shared, as immutable."""
    if not isinstance(value, (dict, list)):
        return value
    root: Any = {} if isinstance(value, dict) else []
    stack: list[tuple[Any, Any]] = [(value, root)]
    while stack:
        src, dst = stack.pop()
        items = src.items() if isinstance(src, dict) else enumerate(src)
        for k, v in items:
            if isinstance(v, (dict, list)):
                child: Any = {} if isinstance(v, dict) else []
                stack.append((v, child))
            else:
                child = v
            if isinstance(dst, dict):
                dst[k] = child
            else:
                dst.append(child)
    return root


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


def parse_workflow(
    doc: Any,
    file: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    *,
    within_limits: bool = False,
) -> Workflow:
    """Check the caps and the shape, and migrate; raises WorkflowError listing every
    structural problem. `doc` may come from any JSON parser: its size is checked here,
    unless `within_limits` says it came from `loads_json` under caps at least as strict
    as `limits` (then the node count is the only cap left to check)."""
    return _parse_within_limits(doc, file, limits, walk=not within_limits)


def _parse_within_limits(doc: Any, file: str | None, limits: Limits, *, walk: bool) -> Workflow:
    # Without `walk` the text's caps were checked on its bytes already: only the
    # node count is left (walking 200,000 nodes to say so took seconds).
    issues = check_limits(doc, file, limits) if walk else _node_cap(doc, file, limits)
    if issues:
        raise WorkflowError(issues)
    if isinstance(doc, dict) and doc.get("format") == FORMAT:
        doc = migrate(doc, file)
    issues = check_shape(doc, file)
    if issues:
        raise WorkflowError(issues)
    return Workflow(doc, file)


class _TooLong(ValueError):
    """An integer literal with more digits than the cap (raised inside json.loads)."""


# Every byte but brackets and quotes, deleted by bytes.translate (C speed).
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_STRING_BYTES = re.compile(rb'"[^"]*"')
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1, ord('"'): 0}


def _unescaped(data: bytes) -> bytes:
    """JSON text with escaped backslashes and quotes masked by two other bytes each, so
    every quote left opens or closes a string and every string keeps its raw length
    (which is never less than its decoded length)."""
    if b"\\" not in data:
        return data
    return data.replace(b"\\\\", b"__").replace(b'\\"', b"__")


def _bracket_depth(data: bytes) -> int:
    """How deeply arrays and objects nest in (unescaped) JSON text: everything but
    brackets and quotes deleted, then the strings (quote pairs and the brackets inside
    them), then a running count over the brackets left. Adjacent quotes are dropped
    first, in C: nothing lies between them, so dropping them moves no bracket in or out
    of a string, and most strings then need no regex at all."""
    structure = data.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in structure:
        structure = _STRING_BYTES.sub(b"", structure)  # an unclosed quote stays: json says
    return max(accumulate(map(_DEPTH_STEP.__getitem__, structure)), default=0)


def _longer_string_than(data: bytes, cap: int) -> bool:
    """Whether (unescaped) JSON text may hold a string longer than `cap`: a quote
    followed by more than `cap` bytes that are not quotes. A long stretch between two
    strings also matches: then the caller's exact walk decides."""
    if len(data) <= cap:
        return False
    return re.search(rb'"[^"]{%d}' % (cap + 1), data) is not None


def _utf8_bytes(text: str, data: str | bytes) -> bytes:
    # Bytes that json reads as UTF-8 (no BOM) are scanned as they are; others re-encoded.
    if isinstance(data, bytes) and json.detect_encoding(data) == "utf-8":
        return data
    return text.encode("utf-8", "surrogatepass")


def json_depth(text: str | bytes) -> int:
    """How deeply arrays and objects nest in JSON text, found without parsing it
    (json.loads recurses, so it cannot be asked). Linear in the text."""
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    return _bracket_depth(_unescaped(data))


def decode_document(data: str | bytes, file: str | None = None) -> str:
    """JSON bytes -> text (UTF-8, -16 or -32 as json detects), a clear issue if not."""
    if isinstance(data, str):
        return data
    try:
        return data.decode(json.detect_encoding(data))
    except (UnicodeDecodeError, LookupError) as exc:
        raise WorkflowError([Issue("bad_json", f"not valid JSON: {exc}", file=file)]) from None


def loads_json(
    data: str | bytes,
    file: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    *,
    finite: bool = False,
) -> Any:
    """Parse a JSON document within the caps: size and nesting depth are checked on the
    text before json.loads, integer literals while it parses, strings after (when the
    text says they need it). With `finite`, NaN, Infinity and numbers out of a float's
    range (1e400) are refused too. Raises WorkflowError."""
    doc, walk = _loads_json(data, file, limits, finite)
    if walk:
        issues = check_limits(doc, file, limits)
        if issues:
            raise WorkflowError(issues)
    return doc


class _NotFinite(ValueError):
    """NaN, Infinity or a number out of range (raised inside json.loads when `finite`)."""


def _refuse_constant(name: str) -> Any:
    raise _NotFinite(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value - value != 0.0:  # inf - inf and nan - nan are nan
        raise _NotFinite(f"{text[:40]} is out of range for a number")
    return value


def _loads_json(
    data: str | bytes, file: str | None, limits: Limits, finite: bool = False
) -> tuple[Any, bool]:
    """The parsed document, and whether its strings still need `check_limits`."""
    if len(data) > limits.max_bytes:
        raise WorkflowError(
            [
                Issue(
                    "too_large",
                    f"the document is {len(data)} bytes; the cap is {limits.max_bytes} (max_bytes)",
                    file=file,
                )
            ]
        )
    text = decode_document(data, file)
    raw = _unescaped(_utf8_bytes(text, data))
    depth = _bracket_depth(raw)
    if depth > limits.max_depth:
        raise WorkflowError(
            [
                Issue(
                    "too_deep",
                    f"objects and arrays nest {depth} deep; the cap is {limits.max_depth} (max_depth)",
                    file=file,
                )
            ]
        )

    def parse_int(digits: str) -> int:
        if len(digits.lstrip("-")) > limits.max_int_digits:
            raise _TooLong(digits)
        return int(digits)

    number_hooks: dict[str, Any] = (
        {"parse_constant": _refuse_constant, "parse_float": _finite_float} if finite else {}
    )
    try:
        with gc_paused(len(text), 1 << 20):
            doc = json.loads(text, parse_int=parse_int, **number_hooks)
        # The strings need the walk only if one may be too long or holds a lone surrogate.
        return doc, _longer_string_than(raw, limits.max_string) or (
            _may_hold_surrogates(text) and not _encodes_as_utf8(doc)
        )
    except _TooLong as exc:
        digits = len(str(exc.args[0]).lstrip("-"))
        issue = Issue(
            "int_too_long",
            f"an integer of {digits} digits; the cap is {limits.max_int_digits} (max_int_digits)",
            file=file,
        )
    except _NotFinite as exc:
        issue = Issue("not_finite", f"not valid JSON: {exc}", file=file)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        issue = Issue("bad_json", f"not valid JSON: {exc}", file=file)
    except (ValueError, RecursionError) as exc:  # never expected after the checks above
        issue = Issue("bad_json", f"not valid JSON: {type(exc).__name__}: {exc}", file=file)
    raise WorkflowError([issue])


def _encodes_as_utf8(doc: Any) -> bool:
    """True when no string of the parsed document holds a lone surrogate: one C-speed
    dump instead of a walk (text with \\ud escapes is common: json.dumps writes every
    emoji as a surrogate pair). The depth is already within the cap, so it cannot recurse
    too deep."""
    try:
        json.dumps(doc, ensure_ascii=False, check_circular=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError, RecursionError):
        return False
    return True


def _may_hold_surrogates(text: str) -> bool:
    """JSON text writes a lone surrogate as a \\udXXXX escape (or holds it raw, as str)."""
    return "\\ud" in text or "\\uD" in text or has_lone_surrogate(text)


def check_limits(doc: Any, file: str | None = None, limits: Limits = DEFAULT_LIMITS) -> list[Issue]:
    """The caps, checked on a parsed document (iteratively: any depth is safe): nesting,
    string length and lone surrogates, integer digits, node count. One issue per cap,
    naming where the first offending value is (e.g. `nodes.a.inputs.text`)."""
    found: dict[str, Issue] = {}

    def report(code: str, message: str, path: _Path) -> None:
        if code not in found:
            where = _render(path)
            found[code] = Issue(code, f"{where}: {message}" if where else message, file=file)

    # (value, depth, path); a path is a linked (parent, key) pair, rendered only to report.
    stack: list[tuple[Any, int, _Path]] = [(doc, 1, None)]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, dict):
            if depth > limits.max_depth:
                report("too_deep", _too_deep(limits), path)
                continue
            for k, v in value.items():
                _check_scalar(k, limits, report, (path, k))
                stack.append((v, depth + 1, (path, k)))
        elif isinstance(value, list):
            if depth > limits.max_depth:
                report("too_deep", _too_deep(limits), path)
                continue
            stack.extend((v, depth + 1, (path, i)) for i, v in enumerate(value))
        else:
            _check_scalar(value, limits, report, path)
    return [*found.values(), *_node_cap(doc, file, limits)]


def _node_cap(doc: Any, file: str | None, limits: Limits) -> list[Issue]:
    nodes = doc.get("nodes") if isinstance(doc, dict) else None
    if isinstance(nodes, dict) and len(nodes) > limits.max_nodes:
        message = f"{len(nodes)} nodes; the cap is {limits.max_nodes} (max_nodes)"
        return [Issue("too_many_nodes", message, file=file)]
    return []


_Path = tuple[Any, Any] | None


def _too_deep(limits: Limits) -> str:
    return f"objects and arrays nest deeper than the cap of {limits.max_depth} (max_depth)"


def _render(path: _Path) -> str:
    parts: list[str] = []
    while path is not None:
        path, key = path
        parts.append(f"[{key}]" if isinstance(key, int) else "." + _short_key(key))
    return "".join(reversed(parts)).lstrip(".")


def _short_key(key: Any) -> str:
    text = key if isinstance(key, str) else repr(key)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 40 else text[:37] + "..."


def _check_scalar(
    value: Any, limits: Limits, report: Callable[[str, str, _Path], None], path: _Path
) -> None:
    if isinstance(value, str):
        if len(value) > limits.max_string:
            report(
                "string_too_long",
                f"a string of {len(value)} characters; the cap is {limits.max_string} (max_string)",
                path,
            )
        elif has_lone_surrogate(value):
            report(
                "bad_string",
                "a string holds a lone surrogate (such as \\ud800), which is not valid Unicode",
                path,
            )
    # bit_length, not str(value): str refuses integers of more than 4300 digits.
    elif (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value.bit_length() > limits.max_int_digits * 3.33
    ):
        report(
            "int_too_long",
            f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits; "
            f"the cap is {limits.max_int_digits} (max_int_digits)",
            path,
        )


def has_lone_surrogate(text: str) -> bool:
    """True when `text` cannot be written as UTF-8 (a lone surrogate from JSON's \\ud800)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def loads_workflow(
    text: str | bytes, file: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> Workflow:
    """A workflow from JSON text or bytes, within `limits`; raises WorkflowError."""
    doc, walk = _loads_json(text, file, limits)
    return _parse_within_limits(doc, file, limits, walk=walk)


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


_PARAM_PYTHON = {"TEXT": (str,), "INT": (int,), "FLOAT": (int, float), "BOOL": (bool,)}


def coerce_param(value: Any, type_name: str) -> Any:
    """Turn a `--set name=value` string (or a CSV cell) into the param's type. A value
    that is not a string must already be of the type: a param is never an object or a
    list, so it can never be mistaken for a link once it is written into an input."""
    if not isinstance(value, str) or type_name == "TEXT":
        allowed = _PARAM_PYTHON.get(type_name, (str, int, float, bool))
        ok = isinstance(value, allowed) and (type_name == "BOOL" or not isinstance(value, bool))
        if not ok and value is not None:
            raise ValueError(f"expected a {type_name} value, got {_kind(value)}")
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


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list"}.get(type(value), type(value).__name__)


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
    # Checked again after the values are in: what a param wrote must be a valid document.
    issues = check_limits(out.doc, workflow.file) + check_shape(out.doc, workflow.file)
    if issues:
        raise WorkflowError(issues)
    return out
