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
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .docpaths import resolve_document_paths
from .errors import Issue, WorkflowError
from .node import MISSING as MISSING_DEFAULT
from .node import NodeType
from .registry import Registry
from .types import ANY, Compat, compatibility, element_type, is_list_type, list_of_name
from .workflow import Workflow, apply_params, is_link


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
    """Stable bytes for a JSON-like value (the widget-value part of a cache key)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr
    ).encode()


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def default_targets(workflow: Workflow, registry: Registry) -> list[str]:
    """Output nodes (savers, previews); failing that, nodes nothing consumes."""
    nodes = workflow.nodes
    outs = [
        nid for nid, e in nodes.items() if (nt := registry.get(e.get("type", ""))) and nt.is_output
    ]
    if outs:
        return outs
    consumed = {
        v["from"] for e in nodes.values() for v in (e.get("inputs") or {}).values() if is_link(v)
    }
    return [nid for nid in nodes if nid not in consumed]


def _resolve_bypass(
    workflow: Workflow,
    registry: Registry,
    node_id: str,
    output: str,
    issues: list[Issue],
    where: tuple[str, str],
) -> tuple[str, str] | None:
    """Follow links through bypassed nodes: a bypassed node passes its first input of
    the output's type straight through."""
    nodes = workflow.nodes
    seen: set[str] = set()
    while node_id in nodes and nodes[node_id].get("bypass") is True:
        if node_id in seen:
            issues.append(
                Issue("cycle", "bypassed nodes form a cycle", node=where[0], input=where[1])
            )
            return None
        seen.add(node_id)
        nt = registry.get(nodes[node_id].get("type", ""))
        if nt is None:
            return node_id, output
        out = next((o for o in nt.outputs if o.name == output), None)
        if out is None:
            return node_id, output
        passed = None
        for spec in nt.inputs:
            value = (nodes[node_id].get("inputs") or {}).get(spec.name)
            if is_link(value) and compatibility(spec.type, out.type) in (Compat.YES, Compat.WIDEN):
                passed = value
                break
        if passed is None:
            issues.append(
                Issue(
                    "bypass",
                    f"node {node_id!r} is bypassed but has no linked input of type {out.type} "
                    f"to pass through as {output!r}",
                    node=where[0],
                    input=where[1],
                )
            )
            return None
        node_id, output = passed["from"], passed["output"]
    return node_id, output


def compile_plan(
    workflow: Workflow,
    registry: Registry,
    *,
    targets: Iterable[str] | None = None,
    salt: str = "",
    side_effect_salt: str = "",
    check_all: bool = False,
) -> Plan:
    """Check the workflow and build the plan for `targets` (default: its output nodes).

    Problems in nodes the targets need raise WorkflowError together; with
    `check_all` every node counts as needed (what `reelgraph validate` does).
    `salt` varies keys of nondeterministic nodes per run, `side_effect_salt`
    those of nodes that write files (the output folder).
    """
    nodes = workflow.nodes
    issues: list[Issue] = []
    file = workflow.file

    # 1. node types
    types: dict[str, NodeType] = {}
    for nid, entry in nodes.items():
        type_id = entry.get("type", "")
        if entry.get("bypass") is True:
            continue  # linked through, never run
        nt = registry.get(type_id)
        if nt is None:
            issues.append(
                Issue(
                    "unknown_node_type",
                    f"unknown node type {type_id!r}{_suggest(type_id, (t.id for t in registry))}; "
                    "the node is kept as it is, but cannot run until its pack is installed",
                    node=nid,
                    file=file,
                )
            )
            continue
        types[nid] = nt
        saved_version = entry.get("type_version")
        if isinstance(saved_version, int) and saved_version != nt.version:
            issues.append(
                Issue(
                    "type_version",
                    f"saved with {type_id} version {saved_version}; installed version is {nt.version}",
                    node=nid,
                    file=file,
                    severity="warning",
                )
            )

    # 2. links (resolved through bypassed nodes)
    links: dict[str, list[Link]] = {nid: [] for nid in types}
    preds: dict[str, list[str]] = {nid: [] for nid in types}
    for nid, nt in types.items():
        inputs = nodes[nid].get("inputs") or {}
        for name, value in inputs.items():
            if not is_link(value) or name not in nt.input_map:
                continue  # unknown inputs are reported with the other input checks below
            resolved = _resolve_bypass(
                workflow, registry, value["from"], value["output"], issues, (nid, name)
            )
            if resolved is None:
                continue
            src, out_name = resolved
            if src not in nodes:
                issues.append(
                    Issue(
                        "missing_link_node",
                        f"linked from node {src!r}, which is not in the workflow{_suggest(src, nodes)}",
                        node=nid,
                        input=name,
                        file=file,
                    )
                )
                continue
            src_type = types.get(src)
            if src_type is None:
                continue  # unknown type: already reported
            index = next((i for i, o in enumerate(src_type.outputs) if o.name == out_name), -1)
            if index < 0:
                names = ", ".join(repr(o.name) for o in src_type.outputs) or "none"
                issues.append(
                    Issue(
                        "missing_output",
                        f"node {src!r} ({src_type.id}) has no output {out_name!r}; its outputs: {names}",
                        node=nid,
                        input=name,
                        file=file,
                    )
                )
                continue
            links[nid].append(Link(name, src, index, Compat.YES))
            preds[nid].append(src)

    # 3. what the targets need
    if check_all:
        wanted = list(types)
    elif targets is None:
        wanted = [t for t in default_targets(workflow, registry) if t in types]
    else:
        wanted = []
        for t in targets:
            if t not in nodes:
                issues.append(
                    Issue(
                        "unknown_target",
                        f"no node {t!r} to run{_suggest(t, nodes)}",
                        node=t,
                        file=file,
                    )
                )
            elif t in types:
                wanted.append(t)
    needed: set[str] = set()
    stack = list(wanted)
    while stack:
        n = stack.pop()
        if n in needed:
            continue
        needed.add(n)
        stack.extend(preds[n])
    if check_all:
        blocking_nodes = set(nodes)
    elif targets is not None:
        # Run-to-here: problems of nodes the targets do not need are only warnings.
        blocking_nodes = needed
    else:
        blocking_nodes = needed | (set(nodes) - set(types))

    # 4. topological order (Kahn); whatever is left over sits on a cycle
    order = _topological_order(needed, preds)
    if len(order) < len(needed):
        _report_cycles(needed - set(order), preds, issues, file)
        _raise(issues, blocking_nodes, nodes)

    # 5. per node, in topological order: inputs, types, widgets, keys
    planned: dict[str, PlannedNode] = {}
    for nid in order:
        nt = types[nid]
        entry_inputs = nodes[nid].get("inputs") or {}
        node_links = links[nid]
        linked = {ln.input: ln for ln in node_links}
        literals: dict[str, Any] = {}
        mapped: list[str] = []
        widget_failed = False
        for spec in nt.inputs:
            ln = linked.get(spec.name)
            if ln is not None:
                src = planned.get(ln.source)
                if src is None:
                    continue  # its source failed to plan; already reported
                src_type = src.out_types[ln.output_index]
                compat = compatibility(src_type, spec.type)
                if compat is Compat.NO:
                    issues.append(
                        Issue(
                            "type_mismatch",
                            f"output {src.type.outputs[ln.output_index].name!r} of node {ln.source!r} is "
                            f"{src_type}, but this input takes {spec.type}",
                            node=nid,
                            input=spec.name,
                            file=file,
                        )
                    )
                    continue
                ln.compat = compat
                if compat is Compat.MAP:
                    mapped.append(spec.name)
                continue
            if spec.name in entry_inputs:
                value = entry_inputs[spec.name]
                if is_link(value):
                    continue  # a link that did not resolve: already reported
                if spec.widget is not None:
                    problem = spec.widget.check(value)
                    if problem:
                        issues.append(
                            Issue("bad_value", problem, node=nid, input=spec.name, file=file)
                        )
                        widget_failed = True
                        continue
                elif value is not None and spec.type != ANY.name:
                    issues.append(
                        Issue(
                            "needs_link",
                            f"this input takes a link from a node output of type {spec.type}, not a value",
                            node=nid,
                            input=spec.name,
                            file=file,
                        )
                    )
                    continue
                literals[spec.name] = value
            elif spec.default is not MISSING_DEFAULT:
                literals[spec.name] = spec.default
            elif spec.optional:
                literals[spec.name] = None
            else:
                what = f"a link of type {spec.type}" if spec.widget is None else "a value or a link"
                issues.append(
                    Issue(
                        "missing_input",
                        f"required input is not connected: needs {what}",
                        node=nid,
                        input=spec.name,
                        file=file,
                    )
                )
        for name in entry_inputs:
            if name not in nt.input_map:
                issues.append(
                    Issue(
                        "unknown_input",
                        f"{nt.id} has no input {name!r}; it is kept in the file but ignored"
                        f"{_suggest(name, nt.input_map)}",
                        node=nid,
                        input=name,
                        file=file,
                        severity="warning",
                    )
                )
        out_types = tuple(o.type for o in nt.outputs)
        if mapped:
            if any(is_list_type(t) for t in out_types):
                issues.append(
                    Issue(
                        "nested_list",
                        "mapping this node over a list would make a list of lists, which is not supported",
                        node=nid,
                        input=mapped[0],
                        file=file,
                    )
                )
            out_types = tuple(list_of_name(element_type(t)) for t in out_types)
        pn = PlannedNode(
            nid,
            nt,
            literals,
            node_links,
            "",
            out_types,
            tuple(mapped),
            tuple(dict.fromkeys(ln.source for ln in node_links)),
        )
        # The node's own checks see only literal values that passed their widget checks
        # (a linked input is absent); after a widget error they would only repeat it.
        if nt.validate is not None and not widget_failed:
            issues.extend(_run_hook_validate(nt, nid, literals, file))
        pn.key = _node_key(pn, planned, workflow.param_values, salt, side_effect_salt, issues, file)
        planned[nid] = pn

    return Plan(workflow, planned, wanted, _raise(issues, blocking_nodes, nodes))


def _topological_order(needed: set[str], preds: dict[str, list[str]]) -> list[str]:
    indegree = {n: 0 for n in needed}
    succs: dict[str, list[str]] = {n: [] for n in needed}
    for n in needed:
        for p in dict.fromkeys(preds[n]):
            indegree[n] += 1
            succs[p].append(n)
    queue = [n for n, d in indegree.items() if d == 0]
    order: list[str] = []
    while queue:
        n = queue.pop()
        order.append(n)
        for c in succs[n]:
            indegree[c] -= 1
            if indegree[c] == 0:
                queue.append(c)
    return order


def _report_cycles(
    left: set[str], preds: dict[str, list[str]], issues: list[Issue], file: str | None
) -> None:
    """Name the nodes of each cycle (networkx's strongly connected components)."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(left)
    g.add_edges_from((p, n) for n in left for p in preds[n] if p in left)
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
    issues: list[Issue],
    file: str | None,
) -> str:
    """Merkle key: no node id, so equal sub-graphs anywhere share cached results.

    A mapped node also gets `item_base`: the same material without its mapped links,
    to which the scheduler adds each element's identity for per-element keys."""
    nt = pn.type
    own = [f"{nt.id}\0{nt.version}\0{nt.source_hash}\0".encode(), canonical(pn.literals)]
    if nt.fingerprint is not None:
        try:
            own.append(b"\0fp=" + str(nt.fingerprint(pn.literals)).encode())
        except Exception as exc:
            issues.append(
                Issue("fingerprint", f"{type(exc).__name__}: {exc}", node=pn.id, file=file)
            )
    if nt.uses_params:
        own.append(b"\0params=" + canonical(params))
    if nt.nondeterministic:
        own.append(b"\0salt=" + salt.encode())
    if nt.side_effects:
        own.append(b"\0out=" + side_effect_salt.encode())
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
) -> Plan:
    """What a run would execute: params applied, then checked and planned for `targets`.
    Raises WorkflowError with every problem; `.warnings` of the plan are the rest."""
    workflow = resolve_document_paths(workflow)  # before params: their values are the user's
    wf = apply_params(workflow, params or {}) if (params or workflow.params) else workflow
    return compile_plan(wf, registry, targets=targets, salt=salt, side_effect_salt=side_effect_salt)


def validate_workflow(workflow: Workflow, registry: Registry) -> list[Issue]:
    """Every problem in the whole workflow (errors first, then warnings); never raises."""
    try:
        plan = compile_plan(resolve_document_paths(workflow), registry, check_all=True)
    except WorkflowError as exc:
        return exc.issues
    return plan.warnings


__all__ = [
    "Link",
    "Plan",
    "PlannedNode",
    "compile_plan",
    "default_targets",
    "plan_run",
    "validate_workflow",
]
