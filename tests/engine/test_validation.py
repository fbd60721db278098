"""Every kind of validation problem is found before anything runs, all at once,
each naming its node and input."""

from __future__ import annotations

import json
import os
from typing import Annotated

import pytest

from reelgraph.engine import (
    Combo,
    Engine,
    Int,
    Limits,
    NotARegularFile,
    Registry,
    WorkflowError,
    file_fingerprint,
    loads_workflow,
    node,
    validate_workflow,
)
from reelgraph.engine.errors import MAX_LISTED, count_issues, listed_issues
from reelgraph.engine.graph import canonical, compile_plan
from reelgraph.engine.workflow import (
    CURRENT_VERSION,
    copy_json,
    json_depth,
    loads_json,
    parse_workflow,
)

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


# --- bounded validation: hostile documents give issues, never crashes (issue 12) ------


def doc_with(inputs, type_="test.Const"):
    return {"format": "reelgraph.workflow", "version": 1, "nodes": {"a": n(type_, **inputs)}}


def load_issues(text):
    with pytest.raises(WorkflowError) as exc:
        loads_workflow(text)
    return exc.value.issues


def test_an_integer_of_thousands_of_digits_is_refused_by_name():
    text = json.dumps(doc_with({})).replace(
        '"inputs": {}', '"inputs": {"value": ' + "9" * 5000 + "}"
    )
    (issue,) = load_issues(text)
    assert issue.code == "int_too_long" and "5000 digits" in issue.message
    assert "max_int_digits" in issue.message


def test_a_huge_integer_built_in_python_is_a_clean_widget_issue(reg):
    wf = workflow({"a": n("test.Add", a=10**5000, b=1)})
    issues = validate_workflow(wf, reg)
    assert codes(issues) == [("bad_value", "a", "a")] and "digits" in issues[0].message


@pytest.mark.parametrize("depth", [600, 100_000])
def test_deep_nesting_is_refused_before_parsing(depth):
    text = json.dumps(doc_with({"value": 1})).replace("1}", "[" * depth + "]" * depth + "}", 1)
    (issue,) = load_issues(text)
    assert issue.code == "too_deep" and "max_depth" in issue.message


def test_deep_nesting_in_an_already_parsed_document_is_refused_iteratively():
    deep: list = []
    inner = deep
    for _ in range(100_000):
        inner.append([])
        inner = inner[0]
    with pytest.raises(WorkflowError) as exc:
        parse_workflow(doc_with({"value": deep}))
    assert exc.value.issues[0].code == "too_deep"
    # Copying such a document (what apply_params does) never recurses either.
    assert copy_json({"x": deep})["x"] is not deep


@pytest.mark.parametrize(
    ("value", "fragment"),
    [(1e400, "finite"), (-1e400, "finite"), (float("nan"), "NaN"), (3.5, "integer")],
)
def test_non_finite_and_fractional_numbers_in_an_int_widget(reg, value, fragment):
    wf = workflow({"a": n("test.Add", a=value, b=1)})
    issues = validate_workflow(wf, reg)
    assert codes(issues) == [("bad_value", "a", "a")] and fragment in issues[0].message


def test_1e400_from_json_text_is_a_widget_issue(reg):
    wf = loads_workflow(
        json.dumps(doc_with({"a": 1, "b": 2}, "test.Add")).replace('"a": 1', '"a": 1e400')
    )
    issues = validate_workflow(wf, reg)
    assert codes(issues) == [("bad_value", "a", "a")]


def test_a_lone_surrogate_is_refused_where_it_is():
    text = json.dumps(doc_with({"text": "\ud800"}, "test.Words"))
    assert "\\ud800" in text
    (issue,) = load_issues(text)
    assert issue.code == "bad_string" and "nodes.a.inputs.text" in issue.message


def test_a_lone_surrogate_in_a_python_built_workflow_is_a_widget_issue(reg):
    wf = workflow({"w": n("test.Words", text="ok \udc80")})
    assert codes(validate_workflow(wf, reg)) == [("bad_value", "w", "text")]


def test_canonical_hashing_is_total():
    for value in ["\ud800", 10**5000, float("nan"), 1e308 * 10, {"k": ["\udfff", 10**9000]}]:
        assert isinstance(canonical(value), bytes)
    assert canonical({"b": 1, "a": "\ud800"}) == canonical({"a": "\ud800", "b": 1})
    assert canonical(10**5000) != canonical(10**5000 + 1)


def test_params_shaped_like_links_are_a_validation_issue(reg):
    doc = {
        "format": "reelgraph.workflow",
        "version": 1,
        "nodes": {"base": n("test.Const", value=1), "blur": n("test.Add", a=2)},
        "params": {"blur": {"node": "blur", "input": "b", "type": "INT", "default": 0}},
    }
    wf = loads_workflow(json.dumps(doc))
    for bad in ({"from": "base"}, {"from": "base", "output": "value"}, [1, 2]):
        with pytest.raises(WorkflowError) as exc:
            Engine(reg).plan(wf, params={"blur": bad})
        assert [i.code for i in exc.value.issues] == ["bad_param_value"]


def test_a_param_default_shaped_like_a_link_is_caught_after_applying(reg):
    doc = {
        "format": "reelgraph.workflow",
        "version": 1,
        "nodes": {"blur": n("test.Add", a=2)},
        "params": {"p": {"node": "blur", "input": "b", "type": "TEXT", "default": {"from": 3}}},
    }
    with pytest.raises(WorkflowError) as exc:
        Engine(reg).plan(loads_workflow(json.dumps(doc)))
    assert exc.value.issues[0].code in ("bad_param_value", "bad_link")


def dangling(count):
    return {f"n{i}": n("test.Upper", text=link(f"n{i}x", "text")) for i in range(count)}


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_100k_dangling_links_validate_in_linear_time(reg):
    """Quadratic did-you-mean made 8,000 of these take 104 s; the bench prints the time
    (validate_dangling_100k_ms), the generous timeout only catches a quadratic return."""
    issues = validate_workflow(workflow(dangling(100_000)), reg)
    assert len(issues) == 100_000 and {i.code for i in issues} == {"missing_link_node"}
    assert "did you mean" in issues[0].message  # hints are kept, for the first few


def test_a_huge_list_of_issues_is_listed_in_part_and_counted_exactly(reg):
    issues = validate_workflow(workflow(dangling(MAX_LISTED + 250)), reg)
    issues.append(issues[0].__class__("unknown_input", "x", "n0", "y", severity="warning"))
    listed = listed_issues(issues)
    assert len(listed) == MAX_LISTED + 1 and listed[:MAX_LISTED] == issues[:MAX_LISTED]
    more = listed[-1]
    assert more.code == "more_issues" and more.severity == "error"
    assert "251 more problems" in more.message
    assert "250 missing_link_node" in more.message and "1 unknown_input (warning)" in more.message
    counts = count_issues(issues)
    assert counts == {
        "errors": MAX_LISTED + 250,
        "warnings": 1,
        "by_code": {"missing_link_node": MAX_LISTED + 250, "unknown_input": 1},
    }
    assert listed_issues(issues[:10]) == issues[:10]  # a short list is left whole
    assert issues[0].to_dict() == {
        "code": "missing_link_node",
        "message": issues[0].message,
        "node": "n0",
        "input": "text",
        "severity": "error",
    }


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ('{"a": "[[[[{{{{"}', 1),  # brackets inside a string do not nest
        ('{"a": "\\"", "b": [[]]}', 3),  # an escaped quote does not end the string
        ('{"a": "\\\\", "b": [[["x\\"]"]]]}', 4),  # escaped backslashes, then quotes
        ('[{"": ""}, "", [""], "[", "]"]', 2),
        ("[]", 1),
        ('"just a string"', 0),
    ],
)
def test_the_depth_scan_skips_strings_and_escapes(text, depth):
    json.loads(text)  # each case is valid JSON
    assert json_depth(text) == depth
    assert json_depth(text.encode()) == depth


def test_a_string_of_escapes_counts_at_its_decoded_length():
    # 12 backslashes decode to 12 characters; masking escapes must not shrink them to 0
    text = json.dumps({"s": "\\" * 12})
    with pytest.raises(WorkflowError) as exc:
        loads_json(text, limits=Limits(max_string=10))
    assert exc.value.issues[0].code == "string_too_long"
    assert loads_json(text, limits=Limits(max_string=12)) == {"s": "\\" * 12}


@pytest.mark.parametrize(("raw", "fragment"), [("NaN", "NaN"), ("1e400", "out of range")])
def test_finite_loading_refuses_what_json_cannot_write(raw, fragment):
    text = '{"a": [1, ' + raw + "]}"
    assert loads_json(text) is not None  # the lenient default: widgets check the values
    with pytest.raises(WorkflowError) as exc:
        loads_json(text, finite=True)
    assert exc.value.issues[0].code == "not_finite" and fragment in exc.value.issues[0].message


def test_escaped_emoji_do_not_force_a_walk_and_lone_surrogates_are_still_found():
    ok = json.dumps({"format": "reelgraph.workflow", "version": 1, "nodes": {"\U0001f600": {}}})
    assert "\\ud83d" in ok  # json writes an emoji as an escaped surrogate pair
    assert list(loads_json(ok)["nodes"]) == ["\U0001f600"]
    bad = ok.replace("\\ude00", "")
    with pytest.raises(WorkflowError) as exc:
        loads_json(bad)
    assert exc.value.issues[0].code == "bad_string"


@pytest.mark.timeout(120)
def test_100k_unknown_types_validate_in_linear_time(reg):
    nodes = {f"n{i}": {"type": f"nope.Type{i}", "inputs": {}} for i in range(100_000)}
    issues = validate_workflow(workflow(nodes), reg)
    assert len(issues) == 100_000 and {i.code for i in issues} == {"unknown_node_type"}
    # Did-you-mean hints stay: the first ones still get them.
    near = validate_workflow(workflow({"a": n("test.Constt")}), reg)
    assert "'test.Const'" in near[0].message


@pytest.mark.timeout(120)
def test_a_long_bypass_chain_with_many_consumers_is_walked_once(reg):
    nodes: dict = {"w": n("test.Words", text="a b"), "t": n("test.Join", items=link("w", "words"))}
    prev = "t"
    for i in range(5_000):
        nodes[f"b{i}"] = {
            "type": "test.Upper",
            "bypass": True,
            "inputs": {"text": link(prev, "text")},
        }
        prev = f"b{i}"
    for i in range(5_000):
        nodes[f"u{i}"] = n("test.Upper", text=link(prev, "text"))
    plan = compile_plan(workflow(nodes), reg, check_all=True)
    assert plan.nodes["u0"].links[0].source == "t" and plan.nodes["u4999"].links[0].source == "t"


def test_bypass_cycle_is_reported_once_per_consumer(reg):
    nodes = {
        "x": {"type": "test.Upper", "bypass": True, "inputs": {"text": link("y", "text")}},
        "y": {"type": "test.Upper", "bypass": True, "inputs": {"text": link("x", "text")}},
        "c": n("test.Upper", text=link("x", "text")),
    }
    assert codes(validate_workflow(workflow(nodes), reg)) == [("cycle", "c", "text")]


def test_load_caps_name_the_cap():
    limits = Limits(max_bytes=10_000, max_nodes=3, max_string=50)
    big = json.dumps(doc_with({"text": "x" * 20_000}, "test.Words"))
    with pytest.raises(WorkflowError) as exc:
        loads_workflow(big, limits=limits)
    assert exc.value.issues[0].code == "too_large" and "max_bytes" in exc.value.issues[0].message
    long_string = json.dumps(doc_with({"text": "x" * 500}, "test.Words"))
    with pytest.raises(WorkflowError) as exc:
        loads_workflow(long_string, limits=limits)
    assert exc.value.issues[0].code == "string_too_long"
    many = {"format": "reelgraph.workflow", "version": 1, "nodes": dangling(4)}
    for load in (
        lambda: loads_workflow(json.dumps(many), limits=limits),
        lambda: parse_workflow(many, limits=limits),
    ):
        with pytest.raises(WorkflowError) as exc:
            load()
        assert exc.value.issues[0].code == "too_many_nodes" and "max_nodes" in str(exc.value)


def test_a_source_beyond_the_output_budget_is_refused_naming_node_inputs_and_bytes():
    reg = Registry()
    reg.load_entry_points()
    huge = workflow({"s": n("image.Solid", width=16384, height=16384, batch=4096)})
    (issue,) = validate_workflow(huge, reg)
    assert (issue.code, issue.node) == ("output_too_large", "s")
    assert "width=16384" in issue.message and "batch=4096" in issue.message
    assert "TiB" in issue.message and "8.0 GiB" in issue.message
    small = workflow({"s": n("image.Solid", width=64, height=64)})
    assert validate_workflow(small, reg) == []
    # The budget is configurable: 64x64x3 floats is 48 KiB.
    assert validate_workflow(small, reg, output_budget=10_000)[0].code == "output_too_large"
    assert validate_workflow(huge, reg, output_budget=1 << 50) == []


def test_fingerprints_are_not_taken_when_the_node_checks_failed():
    calls: list[str] = []

    def fp(values):
        calls.append(values["path"])
        return "fp"

    def check(values):
        return [] if values["path"].endswith(".ok") else [("path", "refused")]

    @node("fpcheck.Load", category="test", outputs={"value": "INT"}, fingerprint=fp, validate=check)
    def load(path: str = "", level: Annotated[int, Int(0, 3)] = 0) -> int:
        return 1

    reg = Registry()
    reg.add(load)
    bad_widget = workflow({"l": n("fpcheck.Load", path="a.ok", level=99)})
    refused = workflow({"l": n("fpcheck.Load", path="/dev/zero")})
    assert validate_workflow(bad_widget, reg)[0].code == "bad_value"
    assert validate_workflow(refused, reg)[0].code == "invalid"
    assert calls == []
    # Nor while anything else in the plan is wrong.
    other_error = workflow({"l": n("fpcheck.Load", path="a.ok"), "x": n("nope.Type")})
    assert validate_workflow(other_error, reg)[0].code == "unknown_node_type"
    assert calls == []
    compile_plan(workflow({"l": n("fpcheck.Load", path="a.ok")}), reg)
    assert calls == ["a.ok"]


@pytest.mark.timeout(30)
def test_image_load_on_a_device_or_a_fifo_is_a_quick_issue(tmp_path):
    reg = Registry()
    reg.load_entry_points()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo), str(tmp_path)):
        issues = validate_workflow(workflow({"l": n("image.Load", path=path)}), reg)
        assert [(i.code, i.node, i.input) for i in issues] == [("invalid", "l", "path")]


@pytest.mark.timeout(30)
def test_file_fingerprint_reads_regular_files_only_and_in_bounded_time(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path in ("/dev/zero", fifo, tmp_path):
        with pytest.raises(NotARegularFile):
            file_fingerprint(path)
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(8 << 30)  # sparse: 8 GiB that a full read would take minutes to hash
    first = file_fingerprint(big)
    assert first.startswith(f"{8 << 30}:")
    with open(big, "r+b") as f:
        f.seek((8 << 30) - 10)
        f.write(b"tail edit!")
    os.utime(big, ns=(1, int(first.split(":")[1])))  # same mtime: the tail hash must see it
    assert file_fingerprint(big) != first
    link_path = tmp_path / "link.bin"
    link_path.symlink_to(big)
    assert file_fingerprint(link_path) == file_fingerprint(big)
    with pytest.raises(NotARegularFile, match="symbolic link"):
        file_fingerprint(link_path, follow_symlinks=False)
