"""Hypothesis: random and mutated workflow JSON never raises anything but WorkflowError."""

from __future__ import annotations

import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reelgraph.engine import (
    Cache,
    Engine,
    MemoryCache,
    WorkflowError,
    loads_workflow,
    validate_workflow,
)
from reelgraph.engine.graph import compile_plan

from .helpers import link, n, registry

REG = registry()
TYPES = [t.id for t in REG] + ["nope.Missing", "", "test"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)

BASE = {
    "format": "reelgraph.workflow",
    "version": 1,
    "nodes": {
        "a": n("test.Const", value=1),
        "b": n("test.Add", a=link("a", "value"), b=2),
        "w": n("test.Words", text="x y"),
        "u": n("test.Upper", text=link("w", "words")),
        "j": n("test.Join", items=link("u", "text")),
        "s": n("image.Solid", width=4, height=4),
        "bl": n("image.Blur", image=link("s", "image")),
    },
    "params": {"p": {"node": "a", "input": "value", "type": "INT", "default": 3}},
}

node_ids = st.sampled_from(["a", "b", "w", "u", "j", "s", "bl", "zz"])
input_names = st.sampled_from(["value", "a", "b", "text", "items", "image", "sigma", "width", "zz"])
output_names = st.sampled_from(["value", "sum", "words", "text", "image", "nope"])

mutation = st.one_of(
    st.tuples(st.just("set_input"), node_ids, input_names, json_values),
    st.tuples(st.just("link"), node_ids, input_names, st.tuples(node_ids, output_names)),
    st.tuples(st.just("type"), node_ids, st.sampled_from(TYPES)),
    st.tuples(st.just("delete"), node_ids),
    st.tuples(
        st.just("raw"),
        st.sampled_from(["nodes", "params", "version", "format", "inputs"]),
        json_values,
    ),
)


def mutate(doc, m):
    kind = m[0]
    nodes = doc.get("nodes")
    if not isinstance(nodes, dict):
        nodes = {}
    target = nodes.get(m[1]) if kind in ("set_input", "link", "type") else None
    inputs = target.get("inputs") if isinstance(target, dict) else None
    if kind == "set_input" and isinstance(inputs, dict):
        inputs[m[2]] = m[3]
    elif kind == "link" and isinstance(inputs, dict):
        inputs[m[2]] = link(*m[3])
    elif kind == "type" and isinstance(target, dict):
        nodes[m[1]]["type"] = m[2]
    elif kind == "delete":
        nodes.pop(m[1], None)
    elif kind == "raw":
        if m[1] == "inputs" and nodes:
            first = next(iter(nodes.values()))
            if isinstance(first, dict):
                first["inputs"] = m[2]
        else:
            doc[m[1]] = m[2]


def mutated(mutations) -> dict:
    doc = copy.deepcopy(BASE)
    for m in mutations:
        mutate(doc, m)
    return doc


def check(text: str) -> None:
    try:
        wf = loads_workflow(text)
        validate_workflow(wf, REG)
        plan = compile_plan(wf, REG)
        assert plan.nodes is not None
    except WorkflowError:
        pass


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_random_json_only_raises_workflow_error(value):
    check(json.dumps(value))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, min_size=1, max_size=6))
def test_mutated_workflows_only_raise_workflow_error(mutations):
    check(json.dumps(mutated(mutations)))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, min_size=1, max_size=4))
def test_mutated_workflows_that_validate_also_run_without_crashing(mutations):
    doc = mutated(mutations)
    try:
        wf = loads_workflow(json.dumps(doc))
        result = Engine(REG, Cache(MemoryCache(1 << 24))).run(wf)
    except WorkflowError:
        return
    assert result.status in ("finished", "failed")
    for failure in result.failed.values():
        assert failure.node_id in doc["nodes"] and failure.message
