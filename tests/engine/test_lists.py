"""list[T] fan-out (a node taking T runs per element) and fan-in (a node taking list[T])."""

from __future__ import annotations

import pytest

from reelgraph.engine import Cache, Engine, MemoryCache

from . import testnodes
from .helpers import link, n, registry, workflow


@pytest.fixture
def engine(tmp_path):
    eng = Engine(registry(), Cache(MemoryCache(1 << 26)), out_dir=tmp_path)
    yield eng
    eng.close()


def pipeline(text: str):
    return workflow(
        {
            "w": n("test.Words", text=text),
            "up": n("test.Upper", text=link("w", "words")),  # takes TEXT, fed list[TEXT]: maps
            "join": n("test.Join", items=link("up", "text"), sep="-"),  # takes list[TEXT]: fan-in
        }
    )


def upper_calls():
    return sorted(c.split(":", 1)[1] for c in testnodes.CALLS if c.startswith("Upper:"))


def test_fan_out_and_fan_in(engine):
    testnodes.CALLS.clear()
    result = engine.run(pipeline("one two three"), targets=["join", "up"])
    assert result.outputs["join"]["text"] == "ONE-TWO-THREE"
    assert result.outputs["up"]["text"] == ["ONE", "TWO", "THREE"]
    assert upper_calls() == ["one", "three", "two"]


def test_each_element_is_cached_on_its_own(engine):
    engine.run(pipeline("one two three"), targets=["join"])
    testnodes.CALLS.clear()
    result = engine.run(pipeline("one TWO-b three four"), targets=["join"])
    assert result.outputs["join"]["text"] == "ONE-TWO-B-THREE-FOUR"
    # Only the changed and the new element ran; "one" and "three" came from the cache.
    assert upper_calls() == ["TWO-b", "four"]


def test_mapped_output_types_propagate(engine):
    from reelgraph.engine import validate_workflow

    # up's output is list[TEXT] after mapping, so Join (list[TEXT]) accepts it and
    # a TEXT-taking node downstream maps again.
    wf = pipeline("a b")
    wf.nodes["again"] = n("test.Upper", text=link("up", "text"))
    assert validate_workflow(wf, engine.registry) == []
    assert engine.run(wf, targets=["again"]).outputs["again"]["text"] == ["A", "B"]


def test_single_value_into_a_list_input_is_wrapped(engine):
    wf = workflow(
        {
            "w": n("test.Words", text="solo"),
            "up": n("test.Upper", text=link("w", "words")),
            "first": n("test.Pick", items=link("up", "text")),
            "again": n("test.Pick", items=link("first", "first")),  # TEXT into list[TEXT]
        }
    )
    result = engine.run(wf, targets=["again"])
    assert result.outputs["again"] == {"first": "SOLO", "count": 1}


def test_zip_lists_of_different_length_fails_clearly(engine):
    wf = workflow(
        {
            "x": n("test.Numbers", text="1 2 3"),
            "y": n("test.Numbers", text="10 20"),
            "s": n("test.Add", a=link("x", "numbers"), b=link("y", "numbers")),
        }
    )
    failure = engine.run(wf, targets=["s"]).failed["s"]
    assert (
        "differ in length" in failure.message
        and "a=3" in failure.message
        and "b=2" in failure.message
    )


def test_zip_two_lists_and_broadcast_a_scalar(engine):
    wf = workflow(
        {
            "x": n("test.Numbers", text="1 2 3"),
            "y": n("test.Numbers", text="10 20 30"),
            "s": n("test.Add", a=link("x", "numbers"), b=link("y", "numbers")),
            "t": n("test.Add", a=link("s", "sum"), b=1000),
        }
    )
    result = engine.run(wf, targets=["s", "t"])
    assert result.outputs["s"]["sum"] == [11, 22, 33]
    assert result.outputs["t"]["sum"] == [1011, 1022, 1033]


def test_whole_list_input_with_a_mapped_scalar(engine):
    wf = workflow(
        {
            "w1": n("test.Words", text="a b c"),
            "w2": n("test.Words", text="x y z"),
            "j": n("test.Join", items=link("w1", "words"), sep=link("w2", "words")),
        }
    )
    # items takes the whole list; sep (TEXT) is mapped: one join per separator.
    result = engine.run(wf, targets=["j"])
    assert result.outputs["j"]["text"] == ["axbxc", "aybyc", "azbzc"]


class Card:
    """A list element that is not a plain value but knows its own identity."""

    def __init__(self, text: str):
        self.text = text

    def __reelgraph_key__(self) -> str:
        return self.text


def test_elements_with_their_own_key_are_cached_on_their_own():
    from reelgraph.engine.scheduler import _content_key

    assert _content_key(Card("a")) == _content_key(Card("a")) != _content_key(Card("b"))
    assert _content_key(object()) is None


def test_per_element_keys_include_params_a_mapped_node_reads(engine):
    # Two templates in a list, each filled from the "name" param: changing the param
    # must re-run the elements, not serve them from the per-element cache.
    wf = workflow(
        {
            "w": n("test.Words", text="hi-{name} bye-{name}"),
            "t": n("text.Template", template=link("w", "words")),
        },
        params={"name": {"type": "TEXT", "default": "Ada"}},
    )
    assert engine.run(wf, targets=["t"]).outputs["t"]["text"] == ["hi-Ada", "bye-Ada"]
    again = engine.run(wf, targets=["t"], params={"name": "Grace"})
    assert again.outputs["t"]["text"] == ["hi-Grace", "bye-Grace"]


def test_runs_side_by_side_compute_a_shared_element_once(engine):
    """Two runs on one cache, at the same time, whose lists share an element neither
    had before: one computes it, the other waits and takes its result (batch rows)."""
    import threading

    def slow_pipeline(text: str):
        return workflow(
            {
                "w": n("test.Words", text=text),
                "up": n("test.SlowUpper", text=link("w", "words")),
                "join": n("test.Join", items=link("up", "text"), sep="-"),
            }
        )

    testnodes.CALLS.clear()
    results = {}

    def run(text: str) -> None:
        results[text] = engine.run(slow_pipeline(text), targets=["join"])

    threads = [threading.Thread(target=run, args=(t,)) for t in ("shared alpha", "shared beta")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results["shared alpha"].outputs["join"]["text"] == "SHARED-ALPHA"
    assert results["shared beta"].outputs["join"]["text"] == "SHARED-BETA"
    calls = sorted(c for c in testnodes.CALLS if c.startswith("SlowUpper:"))
    assert calls == ["SlowUpper:alpha", "SlowUpper:beta", "SlowUpper:shared"]
    assert engine.cache.flights.waits == 1


def test_the_same_node_in_two_runs_at_once_runs_once(engine):
    import threading

    wf = workflow({"s": n("test.Slow", steps=40, value=7)})
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(engine.run(wf, targets=["s"])))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [r.outputs["s"]["value"] for r in results] == [7, 7]
    # one computed it; the other waited for it and reports a cache hit
    assert sorted(len(r.executed) for r in results) == [0, 1]
    assert sorted(len(r.cached) for r in results) == [0, 1]


def test_a_waiting_run_computes_the_element_itself_when_the_owner_fails(engine):
    import threading
    import time

    from reelgraph.engine.cache import Result

    entered, release = threading.Event(), threading.Event()
    got = []

    def owner() -> None:
        with engine.cache.computing("k") as hit:
            assert hit is None
            entered.set()
            release.wait(5)  # then fails: puts nothing

    def waiter() -> None:
        with engine.cache.computing("k") as hit:
            got.append(hit)
            engine.cache.put("k", Result((1,)))

    a = threading.Thread(target=owner)
    a.start()
    entered.wait(5)
    b = threading.Thread(target=waiter)
    b.start()
    deadline = time.monotonic() + 10
    while engine.cache.flights.waiting != 1:  # the waiter is blocked on the owner's claim
        assert time.monotonic() < deadline, "the second claim never waited"
        time.sleep(0.01)
    release.set()
    a.join(5)
    b.join(5)
    assert got == [None]  # nothing to take: the waiter computes it
    assert engine.cache.flights.waits == 0
    assert engine.cache.get("k").values == (1,)


def _meet(text: str):
    return workflow(
        {
            "w": n("test.Words", text=text),
            "up": n("test.MeetUpper", text=link("w", "words")),
            "join": n("test.Join", items=link("up", "text"), sep="-"),
        }
    )


def test_elements_of_a_parallel_items_node_run_side_by_side(tmp_path):
    """A node declared `parallel_items` computes its missing elements in threads, one
    per CPU worker: each element here waits for another to reach the same barrier."""
    import threading

    testnodes.BARRIER["items"] = threading.Barrier(2, timeout=10)
    with Engine(registry(), Cache(MemoryCache()), cpu_workers=2, out_dir=tmp_path) as eng:
        result = eng.run(_meet("one two three four"), targets=["join"])
    assert result.ok, result.failed
    assert result.outputs["join"]["text"] == "ONE-TWO-THREE-FOUR"  # in element order


def test_a_failing_parallel_element_fails_the_node_with_its_index(tmp_path):
    import threading

    testnodes.BARRIER["items"] = threading.Barrier(1)  # never waits
    with Engine(registry(), Cache(MemoryCache()), cpu_workers=2, out_dir=tmp_path) as eng:
        result = eng.run(_meet("one two fail-three four"), targets=["join"])
    failure = result.failed["up"]
    assert (failure.item, failure.input) == (2, "text")
    assert "cannot take 'fail-three'" in failure.message


def test_with_one_cpu_worker_elements_run_one_after_another(tmp_path):
    import threading

    # a barrier of one party never waits: the elements must not need each other
    testnodes.BARRIER["items"] = threading.Barrier(1)
    testnodes.CALLS.clear()
    with Engine(registry(), Cache(MemoryCache()), cpu_workers=1, out_dir=tmp_path) as eng:
        result = eng.run(_meet("c b a"), targets=["join"])
    assert result.outputs["join"]["text"] == "C-B-A"
    assert [c for c in testnodes.CALLS if c.startswith("MeetUpper:")] == [
        "MeetUpper:c",
        "MeetUpper:b",
        "MeetUpper:a",
    ]
