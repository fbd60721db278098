"""What runs, what is reused, and how runs end."""

from __future__ import annotations

import threading
import time

import pytest

from reelgraph.engine import Cache, CancelToken, Engine, MemoryCache

from . import testnodes
from .helpers import link, n, registry, workflow


@pytest.fixture
def engine(tmp_path):
    eng = Engine(registry(), Cache(MemoryCache(1 << 28)), cpu_workers=2, out_dir=tmp_path)
    yield eng
    eng.close()


def diamond():
    # a -> b -> d, a -> c -> d ; e independent
    return workflow(
        {
            "a": n("test.Const", value=1),
            "b": n("test.Add", a=link("a", "value"), b=10),
            "c": n("test.Add", a=link("a", "value"), b=100),
            "d": n("test.Add", a=link("b", "sum"), b=link("c", "sum")),
            "e": n("test.Const", value=7),
            "out": n("test.Sink", value=link("d", "sum")),
            "out2": n("test.Sink", value=link("e", "value")),
        }
    )


def test_cold_then_identical_rerun(engine):
    wf = diamond()
    first = engine.run(wf)
    assert first.ok and sorted(first.executed) == ["a", "b", "c", "d", "e", "out", "out2"]
    again = engine.run(wf)
    assert again.executed == [] and sorted(again.cached) == ["out", "out2"]


def test_widget_edit_reruns_exactly_its_descendants(engine):
    wf = diamond()
    engine.run(wf)
    wf.nodes["b"]["inputs"]["b"] = 11
    result = engine.run(wf)
    assert sorted(result.executed) == ["b", "d", "out"]
    assert sorted(result.cached) == ["a", "c", "out2"]  # a feeds b again, from the cache
    wf.nodes["e"]["inputs"]["value"] = 8
    result = engine.run(wf)
    assert sorted(result.executed) == ["e", "out2"]


def test_rewiring_reruns_the_consumer_only(engine):
    wf = diamond()
    engine.run(wf)
    wf.nodes["d"]["inputs"]["b"] = link("e", "value")
    result = engine.run(wf)
    assert sorted(result.executed) == ["d", "out"]


def test_reverting_an_edit_hits_the_cache(engine):
    wf = diamond()
    engine.run(wf)
    wf.nodes["b"]["inputs"]["b"] = 11
    engine.run(wf)
    wf.nodes["b"]["inputs"]["b"] = 10
    assert engine.run(wf).executed == []


def test_ui_changes_and_node_ids_do_not_matter(engine):
    wf = diamond()
    engine.run(wf)
    wf.nodes["b"]["ui"] = {"pos": [1, 2], "title": "moved"}
    renamed = workflow({("z" + k): v for k, v in wf.nodes.items()})
    for entry in renamed.nodes.values():
        for name, value in entry["inputs"].items():
            if isinstance(value, dict):
                entry["inputs"][name] = link("z" + value["from"], value["output"])
    assert engine.run(renamed).executed == []


def test_run_to_here_runs_only_ancestors(engine):
    wf = diamond()
    result = engine.run(wf, targets=["b"])
    assert sorted(result.executed) == ["a", "b"]
    assert result.outputs == {"b": {"sum": 11}}
    result = engine.run(wf, targets=["d"])
    assert sorted(result.executed) == ["c", "d"] and sorted(result.cached) == ["a", "b"]


def test_multiple_named_outputs(engine):
    wf = workflow(
        {"p": n("test.Pair", value=3), "s": n("test.Add", a=link("p", "a"), b=link("p", "b"))}
    )
    result = engine.run(wf, targets=["s", "p"])
    assert result.outputs["p"] == {"a": 3, "b": -3} and result.outputs["s"]["sum"] == 0


def test_failure_stops_only_descendants_and_keeps_the_rest(engine):
    wf = workflow(
        {
            "a": n("test.Const", value=1),
            "bad": n("test.Fail", value=5),
            "after": n("test.Add", a=link("bad", "value"), b=link("a", "value")),
            "sink_bad": n("test.Sink", value=link("after", "sum")),
            "good": n("test.Add", a=link("a", "value"), b=1),
            "sink_good": n("test.Sink", value=link("good", "sum")),
        }
    )
    events = []
    result = engine.run(wf, listener=events.append)
    assert result.status == "failed"
    failure = result.failed["bad"]
    assert (failure.node_id, failure.node_type) == ("bad", "test.Fail")
    assert "boom 5" in failure.message and "RuntimeError" in failure.traceback
    assert sorted(result.skipped) == ["after", "sink_bad"]
    assert {"a", "good", "sink_good"} <= set(result.executed)
    failed_events = [e for e in events if e.type == "node.failed"]
    assert [e.node_id for e in failed_events] == ["bad"] and "boom" in failed_events[0].data[
        "message"
    ]
    assert events[-1].type == "run.failed"
    # Fix the failing node: what completed before is reused.
    wf.nodes["bad"] = n("test.Const", value=5)
    again = engine.run(wf)
    assert again.ok
    assert sorted(again.executed) == ["after", "bad", "sink_bad"]


def test_node_input_error_names_the_input(engine):
    wf = workflow({"w": n("test.Words", text=""), "p": n("test.Pick", items=link("w", "words"))})
    result = engine.run(wf, targets=["p"])
    assert result.failed["p"].input == "items" and "empty" in result.failed["p"].message


def test_independent_cpu_nodes_really_overlap(engine):
    # Each node waits at a two-party barrier: the run can only finish if both
    # are inside their function at the same moment.
    testnodes.BARRIER["b"] = threading.Barrier(2, timeout=20)
    wf = workflow(
        {
            "x": n("test.Barrier", value=1),
            "y": n("test.Barrier", value=2),
            "s": n("test.Add", a=link("x", "value"), b=link("y", "value")),
        }
    )
    result = engine.run(wf, targets=["s"])
    assert result.ok, result.failed
    assert result.outputs["s"]["sum"] == 3


def test_cpu_limit_of_one_serialises(tmp_path):
    eng = Engine(registry(), Cache(MemoryCache(1 << 20)), cpu_workers=1, out_dir=tmp_path)
    testnodes.BARRIER["b"] = threading.Barrier(2, timeout=0.5)
    wf = workflow({"x": n("test.Barrier", value=1), "y": n("test.Barrier", value=2)})
    result = eng.run(wf, targets=["x", "y"])
    eng.close()
    # One at a time: each waits alone at the barrier and breaks it.
    assert result.status == "failed" and set(result.failed) == {"x", "y"}


def test_cancellation_stops_a_running_node_and_the_rest(engine):
    wf = workflow(
        {
            "slow": n("test.Slow", steps=3000, value=1),
            "after": n("test.Add", a=link("slow", "value"), b=1),
        }
    )
    token = CancelToken()
    events = []

    def listener(ev):
        events.append(ev)
        if ev.type == "node.progress" and ev.data["value"] >= 5:
            token.cancel()

    result = engine.run(wf, targets=["after"], listener=listener, cancel=token)
    assert result.status == "cancelled"
    assert result.executed == [] and result.failed == {}
    assert set(result.skipped) == {"slow", "after"}
    assert events[-1].type == "run.cancelled"
    # Nothing half-done was cached: a new run computes it.
    testnodes_steps = wf.nodes["slow"]["inputs"]
    testnodes_steps["steps"] = 3
    assert engine.run(wf, targets=["after"]).ok


def test_cancel_from_another_thread(engine):
    wf = workflow({"slow": n("test.Slow", steps=5000)})
    token = CancelToken()
    timer = threading.Timer(0.2, token.cancel)
    timer.start()
    t = time.perf_counter()
    result = engine.run(wf, targets=["slow"], cancel=token)
    timer.join()
    assert result.status == "cancelled"
    assert time.perf_counter() - t < 30  # sanity only: 5000 steps would take 50 s


def test_event_sequence_of_a_run(engine):
    wf = workflow({"a": n("test.Const", value=1), "b": n("test.Add", a=link("a", "value"))})
    events = []
    engine.run(wf, targets=["b"], listener=events.append)
    kinds = [(e.type, e.node_id) for e in events]
    assert kinds == [
        ("run.started", None),
        ("run.scheduled", None),
        ("node.started", "a"),
        ("node.finished", "a"),
        ("node.started", "b"),
        ("node.finished", "b"),
        ("run.finished", None),
    ]
    assert events[1].data == {"to_run": 2, "cached": 0, "queued": ["a", "b"]}
    finished = [e for e in events if e.type == "node.finished"]
    assert all(
        e.data["seconds"] >= 0 and e.data["peak_rss_mb"] > 0 and e.data["output_bytes"] > 0
        for e in finished
    )
    events.clear()
    engine.run(wf, targets=["b"], listener=events.append)
    assert [(e.type, e.node_id) for e in events] == [
        ("run.started", None),
        ("node.cached", "b"),
        ("run.scheduled", None),
        ("run.finished", None),
    ]


def test_params_fill_inputs(engine):
    wf = workflow(
        {"a": n("test.Const", value=1), "b": n("test.Add", a=link("a", "value"), b=0)},
        params={"offset": {"node": "b", "input": "b", "type": "INT", "default": 5}},
    )
    # Not given: the value the document (the editor) shows wins over the param default.
    assert engine.run(wf, targets=["b"]).outputs["b"]["sum"] == 1
    assert engine.run(wf, targets=["b"], params={"offset": "41"}).outputs["b"]["sum"] == 42
    del wf.nodes["b"]["inputs"]["b"]
    assert engine.run(wf, targets=["b"]).outputs["b"]["sum"] == 6


def test_hundred_thousand_node_chain_validates_and_runs(engine):
    nodes = {"n0": n("test.Const", value=0)}
    for i in range(1, 100_000):
        nodes[f"n{i}"] = n(
            "test.Add", a=link(f"n{i - 1}", "sum" if i > 1 else "value"), b=1 if i % 2 else 0
        )
    wf = workflow(nodes)
    result = engine.run(wf, targets=["n99999"])
    assert result.ok and result.outputs["n99999"]["sum"] == 50_000
    assert len(result.executed) == 100_000


def test_a_node_calling_sys_exit_in_a_worker_fails_without_hanging(engine):
    wf = workflow({"x": n("test.Exit"), "y": n("test.Const", value=1)})
    result = engine.run(wf, targets=["x", "y"])
    assert result.status == "failed" and "SystemExit" in result.failed["x"].message
    assert result.outputs["y"]["value"] == 1


def test_params_reach_nodes_that_use_them_and_enter_their_keys(engine):
    wf = workflow(
        {"t": n("text.Template", template="Hello {name}, {greeting}!", values="greeting=welcome")},
        params={"name": {"type": "TEXT", "default": "Ada"}},  # a param with no target node
    )
    assert engine.run(wf, targets=["t"]).outputs["t"]["text"] == "Hello Ada, welcome!"
    again = engine.run(wf, targets=["t"], params={"name": "Grace"})
    assert again.executed == ["t"] and again.outputs["t"]["text"] == "Hello Grace, welcome!"
    assert engine.run(wf, targets=["t"], params={"name": "Grace"}).executed == []
    # Nodes that do not read params keep their keys when a param changes.
    wf2 = workflow(
        {"a": n("test.Const", value=1)}, params={"name": {"type": "TEXT", "default": "x"}}
    )
    engine.run(wf2, targets=["a"])
    assert engine.run(wf2, targets=["a"], params={"name": "y"}).executed == []


def test_files_written_by_nodes_are_reported(engine, tmp_path):
    wf = workflow(
        {
            "s": n("image.Solid", width=4, height=4, batch=2),
            "save": n("image.SavePNG", image=link("s", "image"), prefix="pic"),
        }
    )
    events = []
    result = engine.run(wf, listener=events.append)
    expected = [str(tmp_path / "pic_00000.png"), str(tmp_path / "pic_00001.png")]
    assert result.files == {"save": expected}
    finished = next(e for e in events if e.type == "node.finished" and e.node_id == "save")
    assert finished.data["files"] == expected
    assert oct((tmp_path / "pic_00000.png").stat().st_mode & 0o777) != oct(0o600)


def test_warm_hooks_of_nodes_that_will_run_start_with_the_run(engine):
    testnodes.WARMED.clear()
    testnodes.WARMED_DONE.clear()
    wf = workflow(
        {
            "slow": n("test.Slow", steps=100),
            "w": n("test.Warmed", value=link("slow", "value"), model="small"),
            "out": n("test.Sink", value=link("w", "value")),
        }
    )
    finished: dict[str, float] = {}

    def listener(ev) -> None:
        if ev.type == "node.finished":
            finished[ev.node_id] = time.perf_counter()

    first = engine.run(wf, listener=listener)
    assert first.status == "finished"
    # once, with the literal inputs, while the node before it still ran (not after)
    (values, at), *more = testnodes.WARMED
    assert values == {"model": "small"} and not more
    assert at < finished["slow"]
    # a run that executes nothing warms nothing
    testnodes.WARMED.clear()
    again = engine.run(wf)
    assert again.status == "finished" and "w" not in again.executed, again.executed
    time.sleep(0.3)
    assert testnodes.WARMED == []
