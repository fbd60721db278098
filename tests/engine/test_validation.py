"""Every kind of validation problem is found before anything runs, all at once,
each naming its node and input."""

from __future__ import annotations

import json
from typing import Annotated

import pytest

from reelgraph.engine import (
    Combo,
    Engine,
    Registry,
    WorkflowError,
    loads_workflow,
    node,
    validate_workflow,
)
from reelgraph.engine.workflow import CURRENT_VERSION

from .helpers import link, n, registry, workflow


@pytest.fixture(scope="module")
def reg():
    return registry()


def codes(issues):
    return sorted((i.code, i.node, i.input) for i in issues if i.severity == "error")


def test_valid_workflow_has_no_issues(reg):
    wf = workflow({"a": n("test.Const", value=1), "b": n("test.Add", a=link("a", "value"), b=2)})
    assert validate_workflow(wf, reg) == []


def test_unknown_node_type_suggests_close_names(reg):
    wf = workflow({"a": n("test.Constt", value=1)})
    (issue,) = validate_workflow(wf, reg)
    assert issue.code == "unknown_node_type" and issue.node == "a"
    assert "'test.Const'" in issue.message


def test_missing_required_input(reg):
    wf = workflow({"s": n("test.Add", b=1)})
    assert codes(validate_workflow(wf, reg)) == [("missing_input", "s", "a")]


def test_missing_socket_link(reg):
    wf = workflow({"s": n("image.Blur", sigma=1.0)})
    (issue,) = validate_workflow(wf, reg)
    assert (issue.code, issue.node, issue.input) == ("missing_input", "s", "image")
    assert "IMAGE" in issue.message


def test_link_to_missing_node_and_missing_output(reg):
    wf = workflow(
        {
            "a": n("test.Const", value=1),
            "b": n("test.Add", a=link("nope", "value"), b=link("a", "sum")),
        }
    )
    issues = validate_workflow(wf, reg)
    assert codes(issues) == [("missing_link_node", "b", "a"), ("missing_output", "b", "b")]
    assert "'value'" in next(i for i in issues if i.code == "missing_output").message


def test_type_mismatch_names_both_ends(reg):
    wf = workflow({"a": n("test.Const", value=1), "b": n("image.Blur", image=link("a", "value"))})
    (issue,) = validate_workflow(wf, reg)
    assert (issue.code, issue.node, issue.input) == ("type_mismatch", "b", "image")
    assert "INT" in issue.message and "IMAGE" in issue.message and "'a'" in issue.message


@pytest.mark.parametrize(
    ("inputs", "fragment"),
    [
        ({"value": 5000}, "above the maximum"),
        ({"value": -5000}, "below the minimum"),
        ({"value": 1.5}, "expected an integer"),
        ({"value": "3"}, "expected a number"),
        ({"value": True}, "expected a number"),
    ],
)
def test_widget_values_out_of_range_or_wrong_kind(reg, inputs, fragment):
    wf = workflow({"a": n("test.Const", **inputs)})
    (issue,) = validate_workflow(wf, reg)
    assert (issue.code, issue.node, issue.input) == ("bad_value", "a", "value")
    assert fragment in issue.message


def test_combo_value_not_among_options(reg):
    wf = workflow(
        {
            "s": n("image.Solid"),
            "t": n("image.Scale", image=link("s", "image"), method="lanczos9"),
        }
    )
    (issue,) = validate_workflow(wf, reg)
    assert (issue.code, issue.node, issue.input) == ("bad_value", "t", "method")
    assert "'bilinear'" in issue.message


def test_node_validate_hook(reg):
    wf = workflow({"s": n("image.Solid", color="blue-ish")})
    (issue,) = validate_workflow(wf, reg)
    assert (issue.code, issue.node, issue.input) == ("invalid", "s", "color")


def test_cycle_lists_its_nodes(reg):
    wf = workflow(
        {
            "a": n("test.Add", a=link("c", "sum")),
            "b": n("test.Add", a=link("a", "sum")),
            "c": n("test.Add", a=link("b", "sum")),
            "ok": n("test.Const", value=1),
        }
    )
    (issue,) = validate_workflow(wf, reg)
    assert issue.code == "cycle"
    for name in ("'a'", "'b'", "'c'"):
        assert name in issue.message
    assert "'ok'" not in issue.message


def test_self_loop_is_a_cycle(reg):
    wf = workflow({"a": n("test.Add", a=link("a", "sum"))})
    assert [i.code for i in validate_workflow(wf, reg)] == ["cycle"]


def test_unknown_format_and_future_version():
    with pytest.raises(WorkflowError) as exc:
        loads_workflow(json.dumps({"format": "comfy", "nodes": {}}))
    assert exc.value.issues[0].code == "unknown_format"
    with pytest.raises(WorkflowError) as exc:
        loads_workflow(
            json.dumps(
                {"format": "reelgraph.workflow", "version": CURRENT_VERSION + 1, "nodes": {}}
            )
        )
    assert exc.value.issues[0].code == "future_version"
    assert "upgrade" in exc.value.issues[0].message


def test_bad_json_names_the_file(tmp_path):
    from reelgraph.engine import load_workflow

    p = tmp_path / "broken.json"
    p.write_text('{"format": "reelgraph.workflow", "nodes": {')
    with pytest.raises(WorkflowError) as exc:
        load_workflow(p)
    assert exc.value.issues[0].code == "bad_json" and exc.value.issues[0].file == str(p)


def test_literal_for_a_socket_input_is_refused(reg):
    wf = workflow({"b": n("image.Blur", image=[[0.5]])})
    assert codes(validate_workflow(wf, reg)) == [("needs_link", "b", "image")]


def test_all_problems_are_reported_at_once(reg):
    wf = workflow(
        {
            "u": n("no.Such"),
            "m": n("test.Add"),
            "r": n("test.Const", value=99999),
            "t": n("image.Blur", image=link("r", "value")),
            "x": n("test.Add", a=link("ghost", "sum")),
        }
    )
    found = codes(validate_workflow(wf, reg))
    assert found == [
        ("bad_value", "r", "value"),
        ("missing_input", "m", "a"),
        ("missing_link_node", "x", "a"),
        ("type_mismatch", "t", "image"),
        ("unknown_node_type", "u", None),
    ]
    with pytest.raises(WorkflowError) as exc:
        Engine(reg).run(wf)
    assert len([i for i in exc.value.issues if i.severity == "error"]) == 5


def test_unknown_inputs_and_old_type_versions_are_warnings(reg):
    wf = workflow(
        {"a": {"type": "test.Const", "type_version": 0, "inputs": {"value": 1, "legacy": 3}}}
    )
    issues = validate_workflow(wf, reg)
    assert sorted(i.code for i in issues) == ["type_version", "unknown_input"]
    assert all(i.severity == "warning" for i in issues)
    assert Engine(reg).run(wf, targets=["a"]).ok


def test_unknown_target(reg):
    wf = workflow({"a": n("test.Const", value=1)})
    with pytest.raises(WorkflowError) as exc:
        Engine(reg).run(wf, targets=["nope"])
    assert exc.value.issues[0].code == "unknown_target"


def test_problems_outside_the_targets_do_not_block_run_to_here(reg):
    wf = workflow({"a": n("test.Const", value=1), "broken": n("test.Add")})
    result = Engine(reg).run(wf, targets=["a"])
    assert result.ok and result.outputs["a"]["value"] == 1
    assert result.executed == ["a"]


def test_bypassed_node_passes_its_input_through(reg):
    wf = workflow(
        {
            "a": n("test.Const", value=4),
            "skip": {
                "type": "test.Add",
                "bypass": True,
                "inputs": {"a": link("a", "value"), "b": 100},
            },
            "out": n("test.Add", a=link("skip", "sum"), b=1),
        }
    )
    result = Engine(reg).run(wf, targets=["out"])
    assert result.outputs["out"]["sum"] == 5
    assert "skip" not in result.executed


def test_combo_hint_follows_a_value_that_is_not_an_option(tmp_path):
    seen = []

    def check(values):
        seen.append(dict(values))
        return []

    @node("hint.Pick", category="test", outputs={}, output=True, validate=check)
    def pick(
        model: Annotated[str, Combo(lambda: ["a"], hint=lambda: "put models in /m")], n: int = 1
    ) -> None:
        """Pick."""

    reg = Registry()
    reg.add(pick)
    wf = workflow({"p": n("hint.Pick", model="zzz")})
    (issue,) = validate_workflow(wf, reg)
    assert issue.message.endswith("; put models in /m") and issue.input == "model"
    # The node's own check is not run on a value that already failed its widget check...
    assert seen == []
    # ...and sees only literal values: a linked input is absent.
    reg.load_entry_points()
    reg.add_module(__import__("tests.engine.testnodes", fromlist=["x"]))
    wf = workflow(
        {"w": n("test.Words", text="a"), "p": n("hint.Pick", model=link("w", "words"), n=3)}
    )
    validate_workflow(wf, reg)
    assert seen == [{"n": 3}]


def test_param_pointing_at_a_missing_node():
    from reelgraph.engine import apply_params

    wf = workflow(
        {"a": n("test.Const", value=1)},
        params={"p": {"node": "ghost", "input": "value", "type": "INT", "default": 2}},
    )
    with pytest.raises(WorkflowError) as exc:
        apply_params(wf, {})
    assert [(i.code, i.node) for i in exc.value.issues] == [("param_target", "ghost")]


def test_params_that_are_not_an_object():
    with pytest.raises(WorkflowError) as exc:
        loads_workflow(
            json.dumps({"format": "reelgraph.workflow", "version": 1, "nodes": {}, "params": [1]})
        )
    assert exc.value.issues[0].code == "bad_params"


def test_failing_fingerprint_names_the_node(tmp_path):
    def fp(values):
        raise FileNotFoundError(f"no file {values['path']}")

    @node("fp.Load", category="test", outputs={"value": "INT"}, fingerprint=fp)
    def load(path: str = "") -> int:
        """Load."""
        return 1

    reg = Registry()
    reg.add(load)
    (issue,) = validate_workflow(workflow({"l": n("fp.Load", path="x.bin")}), reg)
    assert (issue.code, issue.node) == ("fingerprint", "l") and "x.bin" in issue.message


def test_bypassed_node_without_a_matching_input(reg):
    wf = workflow(
        {
            "w": n("test.Words", text="a"),
            "skip": {"type": "test.Upper", "bypass": True, "inputs": {}},
            "out": n("test.Join", items=link("skip", "text")),
        }
    )
    issues = [i for i in validate_workflow(wf, reg) if i.severity == "error"]
    assert [(i.code, i.node, i.input) for i in issues] == [("bypass", "out", "items")]


def test_mapping_a_list_output_node_would_nest_lists(reg):
    wf = workflow(
        {
            "w": n("test.Words", text="a b"),
            "up": n("test.Upper", text=link("w", "words")),
            "again": n(
                "test.Words", text=link("up", "text")
            ),  # Words outputs list[TEXT]: list of lists
        }
    )
    codes_found = [(i.code, i.node) for i in validate_workflow(wf, reg) if i.severity == "error"]
    assert codes_found == [("nested_list", "again")]


def test_a_crashing_validate_hook_is_reported_not_raised():
    def broken(values):
        raise KeyError("oops")

    @node("vh.Node", category="test", outputs={}, output=True, validate=broken)
    def vh(x: int = 1) -> None:
        """Nothing."""

    reg = Registry()
    reg.add(vh)
    (issue,) = validate_workflow(workflow({"v": n("vh.Node")}), reg)
    assert (issue.code, issue.node) == ("validate_hook", "v") and "KeyError" in issue.message
