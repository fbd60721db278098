"""The workflow document: lossless load/save, atomic writes, migrations, params."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reelgraph.engine import (
    WorkflowError,
    apply_params,
    load_workflow,
    loads_workflow,
    save_workflow,
    validate_workflow,
)
from reelgraph.engine.workflow import MIGRATIONS, atomic_write, migrate

from .helpers import link, n, registry

ROOT = Path(__file__).resolve().parents[2]

RICH = {
    "format": "reelgraph.workflow",
    "version": 1,
    "name": "keeps everything",
    "x-vendor": {"anything": [1, 2, {"deep": True}]},
    "nodes": {
        "a": {
            "type": "test.Const",
            "type_version": 1,
            "inputs": {"value": 3},
            "ui": {"pos": [10, 20], "title": "three", "collapsed": True, "color": "#123"},
            "x-note": "kept",
        },
        "mystery": {
            "type": "someone.ElsesNode",
            "type_version": 7,
            "inputs": {"strange": {"nested": [1, 2]}, "link": link("a", "value")},
            "properties": {"whatever": "the pack stored"},
        },
    },
    "params": {"v": {"node": "a", "input": "value", "type": "INT", "default": 3, "label": "Value"}},
    "groups": [{"title": "g", "bounding": [0, 0, 100, 100], "color": "#335"}],
    "notes": [{"text": "hello", "pos": [5, 5]}],
    "ui": {"viewport": {"x": 1, "y": 2, "zoom": 0.5}},
}


def test_load_save_round_trip_keeps_unknown_keys_and_node_types(tmp_path):
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(RICH))
    wf = load_workflow(path)
    save_workflow(tmp_path / "copy.json", wf)
    assert json.loads((tmp_path / "copy.json").read_text()) == RICH


def test_unknown_node_type_is_an_error_but_the_data_survives(tmp_path):
    wf = loads_workflow(json.dumps(RICH))
    issues = validate_workflow(wf, registry())
    assert [(i.code, i.node) for i in issues if i.severity == "error"] == [
        ("unknown_node_type", "mystery")
    ]
    assert wf.doc == RICH


def test_atomic_save_never_leaves_half_a_file(tmp_path, monkeypatch):
    path = tmp_path / "wf.json"
    path.write_text('{"original": true}')

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", explode)
    with pytest.raises(OSError):
        atomic_write(path, b'{"new": true}')
    assert path.read_text() == '{"original": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["wf.json"]  # no temp file left behind


def test_migration_from_version_0():
    v0 = {
        "format": "reelgraph.workflow",
        "version": 0,
        "nodes": {
            "a": {"class_type": "test.Const", "inputs": {"value": 2}},
            "b": {"class_type": "test.Add", "inputs": {"a": ["a", "value"], "b": 1}},
            "w": {"class_type": "test.Words", "inputs": {"text": "x"}},
            "s": {"class_type": "test.Sink", "inputs": {"value": ["not-a-node", "literal"]}},
        },
    }
    wf = loads_workflow(json.dumps(v0))
    assert wf.doc["version"] == 1
    assert wf.nodes["b"] == {
        "type": "test.Add",
        "inputs": {"a": {"from": "a", "output": "value"}, "b": 1},
    }
    # A two-string list that names no node stays a literal.
    assert wf.nodes["s"]["inputs"]["value"] == ["not-a-node", "literal"]
    from reelgraph.engine import Engine

    assert Engine(registry()).run(wf, targets=["b"]).outputs["b"]["sum"] == 3


def test_every_version_below_current_has_a_migration():
    from reelgraph.engine.workflow import CURRENT_VERSION

    assert sorted(MIGRATIONS) == list(range(CURRENT_VERSION))
    with pytest.raises(WorkflowError):
        migrate({"version": -1})
    with pytest.raises(WorkflowError):
        migrate({"version": "1"})


def test_params_are_coerced_and_unknown_ones_refused():
    wf = loads_workflow(
        json.dumps(
            {
                "format": "reelgraph.workflow",
                "version": 1,
                "nodes": {"a": n("test.Const", value=1), "t": n("test.Words", text="")},
                "params": {
                    "v": {"node": "a", "input": "value", "type": "INT"},
                    "flag": {"node": "t", "input": "text", "type": "TEXT", "default": "d"},
                },
            }
        )
    )
    applied = apply_params(wf, {"v": "12"})
    # "flag" is not given and its input has a value in the document: that value stays.
    assert (
        applied.nodes["a"]["inputs"]["value"] == 12 and applied.nodes["t"]["inputs"]["text"] == ""
    )
    assert applied.param_values == {"v": 12, "flag": ""}
    assert wf.nodes["a"]["inputs"]["value"] == 1  # the original is untouched
    with pytest.raises(WorkflowError) as exc:
        apply_params(wf, {"v": "twelve"})
    assert exc.value.issues[0].node == "a" and exc.value.issues[0].input == "value"
    with pytest.raises(WorkflowError) as exc:
        apply_params(wf, {"nope": "1"})
    assert "v" in exc.value.issues[0].message


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"format": "reelgraph.workflow", "version": 1},
        {"format": "reelgraph.workflow", "version": 1, "nodes": {"a": 3}},
        {"format": "reelgraph.workflow", "version": 1, "nodes": {"a": {"inputs": {}}}},
        {
            "format": "reelgraph.workflow",
            "version": 1,
            "nodes": {"a": {"type": "x.Y", "inputs": []}},
        },
        {
            "format": "reelgraph.workflow",
            "version": 1,
            "nodes": {"a": {"type": "x.Y", "inputs": {"i": {"from": 3}}}},
        },
        {"format": "reelgraph.workflow", "version": 1, "nodes": {}, "params": {"p": {"node": "a"}}},
    ],
)
def test_malformed_documents_raise_workflow_error(doc):
    with pytest.raises(WorkflowError):
        loads_workflow(json.dumps(doc))


def test_shipped_workflows_validate():
    """Every shipped workflow validates, except that generative ones name models that are
    not on this machine (tests/diffusion runs those with tiny models)."""
    reg = registry()
    shipped = sorted((ROOT / "reelgraph" / "workflows").glob("*.json"))
    assert len(shipped) >= 3
    for path in shipped:
        errors = [i for i in validate_workflow(load_workflow(path), reg) if i.severity == "error"]
        assert all(
            i.input == "model"
            and reg[load_workflow(path).nodes[i.node]["type"]].id.startswith("diffusion.")
            for i in errors
        ), f"{path.name}: {errors}"


def test_json_schema_accepts_shipped_workflows_and_rejects_bad_links():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "docs" / "workflow.schema.json").read_text())
    for path in sorted((ROOT / "reelgraph" / "workflows").glob("*.json")):
        jsonschema.validate(json.loads(path.read_text()), schema)
    jsonschema.validate(RICH, schema)
    bad = json.loads(json.dumps(RICH))
    bad["nodes"]["a"]["inputs"]["value"] = {"from": "a"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
