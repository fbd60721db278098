"""Workflow -> execution plan: static checks and Merkle cache keys.

`compile_plan` resolves every link, checks types and widget values, finds
cycles, picks the nodes the targets need and computes each node's cache key
from its type, version, source hash, widget values and the keys of its inputs.
Everything is iterative and linear in nodes + edges: a 100,000-node chain is
fine. All problems are collected and raised together as one WorkflowError.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .code_hash import save_code_keys
from .docpaths import resolve_document_paths
from .errors import Issue, WorkflowError
from .node import MISSING as MISSING_DEFAULT
from .node import NodeType
from .registry import Registry
from .types import ANY, Compat, compatibility, element_type, is_list_type, list_of_name
from .workflow import Workflow, apply_params, gc_paused, is_link

NO_LINKS: list[Link] = []  # the links of a node that has none (shared: never appended to)
DEFAULT_OUTPUT_BUDGET = 8 << 30  # bytes a source node may make (width x height x ...)


@dataclass(slots=True)
class Link:
    input: str
    source: str
    output_index: int
    compat: Compat


@dataclass(slots=True)
class PlannedNode:
    id: str
    type: NodeType
    literals: dict[str, Any]
    links: list[Link]
    key: str = ""
    out_types: tuple[str, ...] = ()
    mapped: tuple[str, ...] = ()  # inputs fed list[T] where the node takes T
    sources: tuple[str, ...] = ()  # distinct upstream node ids
    item_base: str = ""  # mapped nodes: key material of everything but the mapped inputs


@dataclass
class Plan:
    workflow: Workflow
    nodes: dict[str, PlannedNode]  # topological order
    targets: list[str]
    warnings: list[Issue] = field(default_factory=list)


def canonical(value: Any) -> bytes:
    """Stable bytes for a JSON-like value (the widget-value part of a cache key).

    Total over what a document can hold: lone surrogates are kept as their code points
    (surrogatepass), and integers too long for Python's decimal conversion or containers
    too deep for json's recursion go through an iterative encoder instead."""
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr
        )
    except (ValueError, RecursionError, TypeError):
        return _canonical_slow(value)
    return text.encode("utf-8", "surrogatepass")


def _canonical_slow(value: Any) -> bytes:
    """The iterative twin of `canonical` for values json.dumps refuses."""
    out: list[bytes] = []
    stack: list[Any] = [value]
    close = object()
    while stack:
        v = stack.pop()
        if v is close:
            out.append(b")")
        elif isinstance(v, bool) or v is None:
            out.append(json.dumps(v).encode())
        elif isinstance(v, int):
            out.append(b"i" + format(v, "x").encode())  # hex has no digit limit
        elif isinstance(v, float):
            out.append(repr(v).encode())
        elif isinstance(v, str):
            out.append(b"s" + str(len(v)).encode() + b":" + v.encode("utf-8", "surrogatepass"))
        elif isinstance(v, dict):
            items = sorted(v.items(), key=lambda kv: str(kv[0]))
            out.append(b"d(")
            stack.append(close)
            for k, item in reversed(items):
                stack.append(item)
                stack.append(str(k))
        elif isinstance(v, (list, tuple)):
            out.append(b"l(")
            stack.append(close)
            stack.extend(reversed(v))
        else:
            out.append(b"r" + repr(v).encode("utf-8", "surrogatepass"))
    return b"".join(out)


class _Suggester:
    """Did-you-mean hints, bounded per plan: a document with 100,000 dangling links must
    not cost 100,000 scans of 100,000 names. Hints are given for the first
    `MAX_HINTS` names, each among at most `MAX_CANDIDATES` candidates of similar length."""

    MAX_HINTS = 20
    MAX_CANDIDATES = 500

    def __init__(self) -> None:
        self.left = self.MAX_HINTS
        self._memo: dict[tuple[int, str], str] = {}

    def __call__(self, name: Any, choices: Iterable[str]) -> str:
        if self.left <= 0:  # the common case in a huge document: one comparison
            return self._memo.get((id(choices), name), "") if isinstance(name, str) else ""
        if not isinstance(name, str) or len(name) > 200:
            return ""
        memo_key = (id(choices), name)
        if memo_key in self._memo:
            return self._memo[memo_key]
        self.left -= 1
        pool = [c for c in itertools.islice(_similar_length(name, choices), self.MAX_CANDIDATES)]
        close = difflib.get_close_matches(name, pool, n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        self._memo[memo_key] = hint
        return hint


def _similar_length(name: str, choices: Iterable[str]) -> Iterator[str]:
    # A close match (ratio >= 0.6) cannot be much shorter or longer than the name.
    low, high = len(name) * 0.4, len(name) * 2.5 + 2
    return (c for c in choices if isinstance(c, str) and low <= len(c) <= high)


def _suggest(name: str, choices: Iterable[str]) -> str:
    return _Suggester()(name, choices)


def default_targets(
    workflow: Workflow, registry: Registry, types: Mapping[str, NodeType] | None = None
) -> list[str]:
    """Output nodes (savers, previews); failing that, nodes nothing consumes. `types`:
    node types already resolved (saves a registry lookup per node)."""
    nodes = workflow.nodes
    known = types or {}
    outs = [
        nid
        for nid, e in nodes.items()
        if (nt := known.get(nid) or registry.get(e.get("type", ""))) and nt.is_output
    ]
    if outs:
        return outs
    consumed = {
        v["from"]
        for e in nodes.values()
        for v in (e.get("inputs") or {}).values()
        if isinstance(v, dict) and "from" in v
    }
    return [nid for nid in nodes if nid not in consumed]


class _BypassResolver:
    """Follows links through bypassed nodes: a bypassed node passes its first linked
    input of the output's type straight through. Each (node, output) is walked once
    and remembered, so a long bypass chain with many consumers stays linear."""

    def __init__(self, workflow: Workflow, registry: Registry):
        self.nodes = workflow.nodes
        self.registry = registry
        # (node, output) -> where it resolves to, or the problem (code, message)
        self._memo: dict[tuple[str, str], tuple[str, str] | tuple[None, str, str]] = {}

    def _step(self, node_id: str, output: str) -> tuple[str, str] | tuple[None, str, str] | None:
        """One step: the link a bypassed node passes on, a problem, or None (not bypassed)."""
        entry = self.nodes.get(node_id)
        if not isinstance(entry, dict) or entry.get("bypass") is not True:
            return None
        nt = self.registry.get(entry.get("type", ""))
        out = next((o for o in nt.outputs if o.name == output), None) if nt else None
        if nt is None or out is None:
            return None  # reported where the link is checked
        for spec in nt.inputs:
            value = (entry.get("inputs") or {}).get(spec.name)
            if is_link(value) and compatibility(spec.type, out.type) in (Compat.YES, Compat.WIDEN):
                return value["from"], value["output"]
        return (
            None,
            "bypass",
            f"node {node_id!r} is bypassed but has no linked input of type {out.type} "
            f"to pass through as {output!r}",
        )

    def resolve(self, node_id: str, output: str) -> tuple[str, str] | tuple[None, str, str]:
        entry = self.nodes.get(node_id)
        if not isinstance(entry, dict) or entry.get("bypass") is not True:
            return node_id, output  # the common case: nothing to follow
        path: list[tuple[str, str]] = []
        on_path: set[tuple[str, str]] = set()
        here: tuple[str, str] = (node_id, output)
        while True:
            if here in self._memo:
                result = self._memo[here]
                break
            if here in on_path:
                result = (None, "cycle", "bypassed nodes form a cycle")
                break
            step = self._step(*here)
            if step is None:
                result = here
                break
            path.append(here)
            on_path.add(here)
            if step[0] is None:
                result = step
                break
            here = (step[0], step[1])
        for visited in path:
            self._memo[visited] = result
        return result


@dataclass
class _Checks:
    """The problems found while planning, and where the document came from."""

    file: str | None
    issues: list[Issue] = field(default_factory=list)
    suggest: _Suggester = field(default_factory=_Suggester)

    def add(
        self,
        code: str,
        message: str,
        node: str | None = None,
        input: str | None = None,
        severity: str = "error",
    ) -> None:
        self.issues.append(Issue(code, message, node, input, self.file, severity))


def compile_plan(
    workflow: Workflow,
    registry: Registry,
    *,
    targets: Iterable[str] | None = None,
    salt: str = "",
    side_effect_salt: str = "",
    check_all: bool = False,
    output_budget: int | None = None,
) -> Plan:
    """Check the workflow and build the plan for `targets` (default: its output nodes).

    Problems in nodes the targets need raise WorkflowError together; with
    `check_all` every node counts as needed (what `reelgraph validate` does).
    `salt` varies keys of nondeterministic nodes per run, `side_effect_salt`
    those of nodes that write files (the output folder). `output_budget` caps the
    bytes a source node may declare it will make (default: `default_output_budget()`).
    """
    with gc_paused(len(workflow.nodes), 10_000):
        try:
            return _compile(
                workflow, registry, targets, salt, side_effect_salt, check_all, output_budget
            )
        except WorkflowError as exc:
            issues = exc.issues
    # Raised here, not inside: the traceback would keep every planning structure alive
    # while the collector, switched back on, walks them all once more.
    raise WorkflowError(issues)


def _compile(
    workflow: Workflow,
    registry: Registry,
    targets: Iterable[str] | None,
    salt: str,
    side_effect_salt: str,
    check_all: bool,
    output_budget: int | None,
) -> Plan:
    nodes = workflow.nodes
    checks = _Checks(workflow.file)
    types = _resolve_types(workflow, registry, checks)
    links, preds = _resolve_links(workflow, registry, types, checks)
    wanted = _resolve_targets(workflow, registry, types, targets, check_all, checks)
    # Every node wanted (default targets are distinct): nothing to walk, links only point
    # at nodes that run.
    everything = check_all or (targets is None and len(wanted) == len(types))
    needed = set(types) if everything else _needed(wanted, preds)
    blocking = _blocking_nodes(nodes, types, needed, targets, check_all)
    order = _topological_order(types if check_all else [n for n in types if n in needed], preds)
    if len(order) < len(needed):
        _report_cycles(needed - set(order), preds, checks.issues, checks.file)
        _raise(checks.issues, blocking, nodes)
    budget = default_output_budget() if output_budget is None else output_budget
    planned: dict[str, PlannedNode] = {}
    checked: dict[str, bool] = {}
    out_types: dict[str, tuple[str, ...]] = {}  # per node type, computed once
    for nid in order:
        nt = types[nid]
        pn, values_ok = _plan_node(
            nid, nt, nodes[nid], links.get(nid, NO_LINKS), planned, checks, out_types
        )
        if nt.validate is not None or nt.estimate_bytes is not None:
            values_ok = values_ok and _run_node_checks(pn, budget, checks)
        checked[nid] = values_ok
        planned[nid] = pn
    # Keys only for a plan that will be used: a document with errors costs no hashing,
    # and no fingerprint hook reads a file while anything in the plan is wrong.
    _raise(checks.issues, blocking, nodes)
    for nid, pn in planned.items():
        pn.key = _node_key(
            pn, planned, workflow.param_values, salt, side_effect_salt, checks, checked[nid]
        )
    # keys of node code made here go to the store now: a worker may be killed, not exit
    save_code_keys()
    return Plan(workflow, planned, wanted, _raise(checks.issues, blocking, nodes))


def default_output_budget() -> int:
    """Bytes one source node may declare it will make: REELGRAPH_OUTPUT_BUDGET, else 8 GiB."""
    raw = os.environ.get("REELGRAPH_OUTPUT_BUDGET", "")
    try:
        return max(0, int(raw)) if raw else DEFAULT_OUTPUT_BUDGET
    except ValueError:
        return DEFAULT_OUTPUT_BUDGET


def _resolve_types(workflow: Workflow, registry: Registry, checks: _Checks) -> dict[str, NodeType]:
    """The node type of every node that will run (bypassed nodes never run)."""
    types: dict[str, NodeType] = {}
    all_ids: list[str] | None = None
    lookup = registry.get
    for nid, entry in workflow.nodes.items():
        type_id = entry.get("type", "")
        if entry.get("bypass") is True:
            continue
        nt = lookup(type_id)
        if nt is None:
            if all_ids is None:
                all_ids = [t.id for t in registry]
            checks.add(
                "unknown_node_type",
                f"unknown node type {type_id!r}{checks.suggest(type_id, all_ids)}; "
                "the node is kept as it is, but cannot run until its pack is installed",
                node=nid,
            )
            continue
        types[nid] = nt
        saved_version = entry.get("type_version")
        if (
            saved_version is not None
            and saved_version != nt.version
            and isinstance(saved_version, int)
        ):
            checks.add(
                "type_version",
                f"saved with {type_id} version {saved_version}; installed version is {nt.version}",
                node=nid,
                severity="warning",
            )
    return types


def _resolve_links(
    workflow: Workflow, registry: Registry, types: dict[str, NodeType], checks: _Checks
) -> tuple[dict[str, list[Link]], dict[str, list[str]]]:
    """Every link of a node that runs, resolved through bypassed nodes to the output it
    reads; and each node's upstream nodes."""
    nodes = workflow.nodes
    bypass = _BypassResolver(workflow, registry)
    links: dict[str, list[Link]] = {}
    preds: dict[str, list[str]] = {}
    output_index: dict[tuple[str, str], int] = {}  # (type id, output name) -> position
    no_links: list[Link] = []  # marks a node without links (never stored, never appended to)
    no_preds: list[str] = []
    for nid, nt in types.items():
        node_links, node_preds = no_links, no_preds
        for name, value in (nodes[nid].get("inputs") or {}).items():
            if not isinstance(value, dict) or "from" not in value or name not in nt.input_map:
                continue  # literals; unknown inputs are reported with the input checks
            src, out_name = value["from"], value["output"]
            src_entry = nodes.get(src)
            if src_entry is None:
                checks.add(
                    "missing_link_node",
                    f"linked from node {src!r}, which is not in the workflow"
                    f"{checks.suggest(src, nodes)}",
                    node=nid,
                    input=name,
                )
                continue
            if isinstance(src_entry, dict) and src_entry.get("bypass") is True:
                resolved = bypass.resolve(src, out_name)
                if resolved[0] is None:
                    checks.add(resolved[1], resolved[2], node=nid, input=name)
                    continue
                src, out_name = resolved
            src_type = types.get(src)
            if src_type is None:
                continue  # unknown type: already reported
            key = (src_type.id, out_name)
            index = output_index.get(key)
            if index is None:
                outs = src_type.outputs
                index = next((i for i, o in enumerate(outs) if o.name == out_name), -1)
                output_index[key] = index
            if index < 0:
                names = ", ".join(repr(o.name) for o in src_type.outputs) or "none"
                checks.add(
                    "missing_output",
                    f"node {src!r} ({src_type.id}) has no output {out_name!r}; its outputs: {names}",
                    node=nid,
                    input=name,
                )
                continue
            if node_links is no_links:
                node_links, node_preds = [], []
            node_links.append(Link(name, src, index, Compat.YES))
            node_preds.append(src)
        if node_links is not no_links:  # nodes without links are left out: look up with .get
            links[nid] = node_links
            preds[nid] = node_preds
    return links, preds


def _resolve_targets(
    workflow: Workflow,
    registry: Registry,
    types: dict[str, NodeType],
    targets: Iterable[str] | None,
    check_all: bool,
    checks: _Checks,
) -> list[str]:
    """The nodes asked for: every node (check_all), the given targets, or the outputs."""
    if check_all:
        return list(types)
    if targets is None:
        return [t for t in default_targets(workflow, registry, types) if t in types]
    wanted = []
    for t in targets:
        if t not in workflow.nodes:
            checks.add(
                "unknown_target",
                f"no node {t!r} to run{checks.suggest(t, workflow.nodes)}",
                node=t,
            )
        elif t in types:
            wanted.append(t)
    return wanted


def _needed(wanted: list[str], preds: dict[str, list[str]]) -> set[str]:
    """The targets and everything upstream of them."""
    needed: set[str] = set()
    stack = list(wanted)
    while stack:
        n = stack.pop()
        if n in needed:
            continue
        needed.add(n)
        stack.extend(preds.get(n, ()))
    return needed


def _blocking_nodes(
    nodes: dict[str, Any],
    types: dict[str, NodeType],
    needed: set[str],
    targets: Iterable[str] | None,
    check_all: bool,
) -> set[str]:
    """Nodes whose errors stop the run."""
    if check_all:
        return set(nodes)
    if targets is not None:
        # Run-to-here: problems of nodes the targets do not need are only warnings.
        return needed
    return needed | (set(nodes) - set(types))


def _plan_node(
    nid: str,
    nt: NodeType,
    entry: dict[str, Any],
    node_links: list[Link],
    planned: dict[str, PlannedNode],
    checks: _Checks,
    out_types_of: dict[str, tuple[str, ...]],
) -> tuple[PlannedNode, bool]:
    """The node's inputs checked (link types, widget values, required inputs) and its
    literal values; the flag says whether every value passed its check."""
    entry_inputs = entry.get("inputs") or {}
    linked = {ln.input: ln for ln in node_links} if node_links else {}
    literals: dict[str, Any] = {}
    mapped: list[str] = []
    values_ok = True
    for spec in nt.inputs:
        name = spec.name
        if linked:
            ln = linked.get(name)
            if ln is not None:
                if _check_link_type(nid, spec, ln, planned, checks):
                    mapped.append(name)
                continue
        if name in entry_inputs:
            value = entry_inputs[name]
            if isinstance(value, dict) and "from" in value:
                continue  # a link that did not resolve: already reported
            if _check_literal(nid, spec, value, checks):
                literals[name] = value
            else:
                values_ok = False
        elif spec.default is not MISSING_DEFAULT:
            literals[name] = spec.default
        elif spec.optional:
            literals[name] = None
        else:
            what = f"a link of type {spec.type}" if spec.widget is None else "a value or a link"
            checks.add(
                "missing_input",
                f"required input is not connected: needs {what}",
                node=nid,
                input=spec.name,
            )
    if not entry_inputs.keys() <= nt.input_map.keys():
        _warn_unknown_inputs(nid, nt, entry_inputs, checks)
    if mapped:
        out_types = _output_types(nid, nt, mapped, checks)
    else:
        out_types = out_types_of.get(nt.id) or out_types_of.setdefault(
            nt.id, tuple(o.type for o in nt.outputs)
        )
    sources = tuple(dict.fromkeys(ln.source for ln in node_links)) if node_links else ()
    pn = PlannedNode(
        nid, nt, literals, node_links, "", out_types, tuple(mapped) if mapped else (), sources
    )
    return pn, values_ok


def _check_link_type(
    nid: str, spec: Any, ln: Link, planned: dict[str, PlannedNode], checks: _Checks
) -> bool:
    """Record how the link's type feeds the input; True when the node maps over it."""
    src = planned.get(ln.source)
    if src is None:
        return False  # its source failed to plan; already reported
    src_type = src.out_types[ln.output_index]
    compat = compatibility(src_type, spec.type)
    if compat is Compat.NO:
        checks.add(
            "type_mismatch",
            f"output {src.type.outputs[ln.output_index].name!r} of node {ln.source!r} is "
            f"{src_type}, but this input takes {spec.type}",
            node=nid,
            input=spec.name,
        )
        return False
    ln.compat = compat
    return compat is Compat.MAP


def _check_literal(nid: str, spec: Any, value: Any, checks: _Checks) -> bool:
    """A value typed into an input: its widget accepts it, or the input takes any value."""
    if spec.widget is not None:
        problem = spec.widget.check(value)
        if problem:
            checks.add("bad_value", problem, node=nid, input=spec.name)
            return False
        return True
    if value is not None and spec.type != ANY.name:
        checks.add(
            "needs_link",
            f"this input takes a link from a node output of type {spec.type}, not a value",
            node=nid,
            input=spec.name,
        )
        return False
    return True


def _warn_unknown_inputs(
    nid: str, nt: NodeType, entry_inputs: dict[str, Any], checks: _Checks
) -> None:
    for name in entry_inputs:
        if name not in nt.input_map:
            checks.add(
                "unknown_input",
                f"{nt.id} has no input {name!r}; it is kept in the file but ignored"
                f"{checks.suggest(name, nt.input_map)}",
                node=nid,
                input=name,
                severity="warning",
            )


def _output_types(nid: str, nt: NodeType, mapped: list[str], checks: _Checks) -> tuple[str, ...]:
    """The node's output types; a node mapped over a list makes lists."""
    out_types = tuple(o.type for o in nt.outputs)
    if not mapped:
        return out_types
    if any(is_list_type(t) for t in out_types):
        checks.add(
            "nested_list",
            "mapping this node over a list would make a list of lists, which is not supported",
            node=nid,
            input=mapped[0],
        )
    return tuple(list_of_name(element_type(t)) for t in out_types)


def _run_node_checks(pn: PlannedNode, budget: int, checks: _Checks) -> bool:
    """The node's own validate hook, then its output-size estimate against the budget.
    They see only literal values that passed their widget checks (a linked input is
    absent). True when nothing was found: only then may its fingerprint read files."""
    before = len(checks.issues)
    nt = pn.type
    if nt.validate is not None:
        checks.issues.extend(_run_hook_validate(nt, pn.id, pn.literals, checks.file))
    if nt.estimate_bytes is not None:
        _check_estimate(pn, budget, checks)
    return not any(i.severity == "error" for i in checks.issues[before:])


def _check_estimate(pn: PlannedNode, budget: int, checks: _Checks) -> None:
    try:
        estimate = pn.type.estimate_bytes(pn.literals)  # type: ignore[misc]
    except Exception as exc:
        checks.add(
            "estimate_hook",
            f"estimating the output size failed: {type(exc).__name__}: {exc}",
            node=pn.id,
        )
        return
    if isinstance(estimate, bool) or not isinstance(estimate, int) or estimate <= budget:
        return
    sizes = ", ".join(
        f"{k}={v}" for k, v in pn.literals.items() if isinstance(v, int) and not isinstance(v, bool)
    )
    checks.add(
        "output_too_large",
        f"{pn.type.id} would make about {_human_bytes(estimate)} ({sizes}); the output "
        f"budget is {_human_bytes(budget)} (REELGRAPH_OUTPUT_BUDGET)",
        node=pn.id,
    )


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


def _topological_order(needed: Iterable[str], preds: dict[str, list[str]]) -> list[str]:
    """Kahn's algorithm, with the order list as its queue: nodes without inputs first,
    in the order given (document order), then each node once all its sources are in."""
    order: list[str] = []
    indegree: dict[str, int] = {}
    succs: dict[str, list[str]] = {}
    for n in needed:
        ps = preds.get(n)
        if not ps:
            order.append(n)
            continue
        distinct = dict.fromkeys(ps) if len(ps) > 1 else ps
        indegree[n] = len(distinct)
        for p in distinct:
            if p in succs:
                succs[p].append(n)
            else:
                succs[p] = [n]
    if not indegree:
        return order
    i = 0
    while i < len(order):
        for c in succs.get(order[i], ()):
            left = indegree[c] - 1
            indegree[c] = left
            if left == 0:
                order.append(c)
        i += 1
    return order


def _report_cycles(
    left: set[str], preds: dict[str, list[str]], issues: list[Issue], file: str | None
) -> None:
    """Name the nodes of each cycle (networkx's strongly connected components)."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(left)
    g.add_edges_from((p, n) for n in left for p in preds.get(n, ()) if p in left)
    for scc in nx.strongly_connected_components(g):
        if len(scc) > 1 or g.has_edge(next(iter(scc)), next(iter(scc))):
            members = sorted(scc)
            shown = ", ".join(repr(m) for m in members[:20]) + (" ..." if len(members) > 20 else "")
            issues.append(
                Issue("cycle", f"these nodes form a cycle: {shown}", node=members[0], file=file)
            )


def _run_hook_validate(
    nt: NodeType, nid: str, literals: dict[str, Any], file: str | None
) -> list[Issue]:
    out: list[Issue] = []
    try:
        problems = nt.validate(literals) or []  # type: ignore[misc]
    except Exception as exc:
        return [
            Issue(
                "validate_hook",
                f"validation failed: {type(exc).__name__}: {exc}",
                node=nid,
                file=file,
            )
        ]
    for p in problems:
        if isinstance(p, tuple):
            out.append(Issue("invalid", str(p[1]), node=nid, input=str(p[0]), file=file))
        else:
            out.append(Issue("invalid", str(p), node=nid, file=file))
    return out


def _node_key(
    pn: PlannedNode,
    planned: dict[str, PlannedNode],
    params: dict[str, Any],
    salt: str,
    side_effect_salt: str,
    checks: _Checks,
    checked: bool,
) -> str:
    """Merkle key: no node id, so equal sub-graphs anywhere share cached results.

    A mapped node also gets `item_base`: the same material without its mapped links,
    to which the scheduler adds each element's identity for per-element keys.
    The fingerprint hook (which may read files) runs only when `checked`: the node's
    values passed every check, so it never opens a path that was refused."""
    nt = pn.type
    own = [f"{nt.id}\0{nt.version}\0{nt.source_hash}\0".encode(), canonical(pn.literals)]
    if nt.fingerprint is not None and checked:
        try:
            fp = str(nt.fingerprint(pn.literals))
            own.append(b"\0fp=" + fp.encode("utf-8", "surrogatepass"))
        except Exception as exc:
            checks.add("fingerprint", f"{type(exc).__name__}: {exc}", node=pn.id)
    if nt.uses_params:
        own.append(b"\0params=" + canonical(params))
    if nt.nondeterministic:
        own.append(b"\0salt=" + salt.encode("utf-8", "surrogatepass"))
    if nt.side_effects:
        own.append(b"\0out=" + side_effect_salt.encode("utf-8", "surrogatepass"))
    full = hashlib.blake2b(b"".join(own), digest_size=16)
    base = hashlib.blake2b(b"".join(own), digest_size=16) if pn.mapped else None
    for ln in sorted(pn.links, key=lambda x: x.input):
        src = planned.get(ln.source)
        part = (
            f"\0{ln.input}={src.key if src else '?'}:{ln.output_index}:{ln.compat.value}".encode()
        )
        full.update(part)
        if base is not None and ln.input not in pn.mapped:
            base.update(part)
    if base is not None:
        pn.item_base = base.hexdigest()
    return full.hexdigest()


def _raise(issues: list[Issue], needed: set[str], all_nodes: dict[str, Any]) -> list[Issue]:
    """Raise the errors that block the run; return the rest as warnings. An error blocks
    unless it belongs to a node of the workflow that the run does not need."""
    errors, warnings = [], []
    for i in issues:
        blocking = i.severity == "error" and (
            i.node is None or i.node in needed or i.node not in all_nodes
        )
        if blocking:
            errors.append(i)
        else:
            warnings.append(
                i
                if i.severity == "warning"
                else Issue(i.code, i.message, i.node, i.input, i.file, "warning")
            )
    if errors:
        raise WorkflowError(errors + warnings)
    return warnings


def plan_run(
    workflow: Workflow,
    registry: Registry,
    *,
    params: Mapping[str, Any] | None = None,
    targets: Iterable[str] | None = None,
    salt: str = "",
    side_effect_salt: str = "",
    output_budget: int | None = None,
) -> Plan:
    """What a run would execute: params applied, then checked and planned for `targets`.
    Raises WorkflowError with every problem; `.warnings` of the plan are the rest."""
    workflow = resolve_document_paths(workflow)  # before params: their values are the user's
    wf = apply_params(workflow, params or {}) if (params or workflow.params) else workflow
    return compile_plan(
        wf,
        registry,
        targets=targets,
        salt=salt,
        side_effect_salt=side_effect_salt,
        output_budget=output_budget,
    )


def validate_workflow(
    workflow: Workflow, registry: Registry, *, output_budget: int | None = None
) -> list[Issue]:
    """Every problem in the whole workflow (errors first, then warnings); never raises."""
    try:
        plan = compile_plan(
            resolve_document_paths(workflow), registry, check_all=True, output_budget=output_budget
        )
    except WorkflowError as exc:
        return exc.issues
    return plan.warnings


__all__ = [
    "Link",
    "Plan",
    "PlannedNode",
    "canonical",
    "compile_plan",
    "default_output_budget",
    "default_targets",
    "plan_run",
    "validate_workflow",
]
