"""Small pure-Python nodes for engine tests: cheap, observable, no torch."""

from __future__ import annotations

import threading
import time
from typing import Annotated

from reelgraph import INT, TEXT, Context, Int, NodeInputError, Text, list_of, node, socket

TextIn = socket(TEXT)

# Tests set this before a run that needs two nodes inside at once.
BARRIER: dict[str, threading.Barrier] = {}
CALLS: list[str] = []


@node("test.Const", category="test", outputs={"value": INT})
def const(value: Annotated[int, Int(-1000, 1000)] = 0) -> int:
    """An integer."""
    CALLS.append("Const")
    return value


@node("test.Add", category="test", outputs={"sum": INT})
def add(a: Annotated[int, Int()], b: Annotated[int, Int()] = 0) -> int:
    """a + b"""
    CALLS.append("Add")
    return a + b


@node("test.Words", category="test", outputs={"words": list_of(TextIn)})
def words(text: Annotated[str, Text(multiline=True)] = "") -> list[str]:
    """Split text into words."""
    return text.split()


@node("test.Upper", category="test", outputs={"text": TEXT})
def upper(text: TextIn) -> str:
    """Upper-case one text (fed a list, it runs per element)."""
    CALLS.append(f"Upper:{text}")
    return text.upper()


@node("test.SlowUpper", category="test", outputs={"text": TEXT})
def slow_upper(text: TextIn) -> str:
    """Upper-case one text, slowly (so runs side by side overlap)."""
    CALLS.append(f"SlowUpper:{text}")
    time.sleep(0.4)
    return text.upper()


@node("test.Join", category="test", outputs={"text": TEXT})
def join(items: list_of(TextIn), sep: str = " ") -> str:
    """Join a list of texts."""
    return sep.join(items)


@node("test.Pick", category="test", outputs={"first": TEXT, "count": INT})
def pick(items: list_of(TextIn)) -> tuple[str, int]:
    """Two outputs from a list."""
    if not items:
        raise NodeInputError("items", "the list is empty")
    return items[0], len(items)


@node("test.Barrier", category="test", outputs={"value": INT})
def barrier(value: Annotated[int, Int()] = 0) -> int:
    """Waits until another node reaches the same barrier: proves two nodes run at once."""
    BARRIER["b"].wait()  # the barrier carries its own timeout
    return value


@node("test.MeetUpper", category="test", outputs={"text": TEXT}, parallel_items=True)
def meet_upper(text: TextIn) -> str:
    """Upper-case one text after another element reaches the same barrier: proves the
    elements of a mapped call run side by side. "fail..." raises."""
    CALLS.append(f"MeetUpper:{text}")
    if text.startswith("fail"):
        raise NodeInputError("text", f"cannot take {text!r}")
    BARRIER["items"].wait()
    return text.upper()


@node("test.Slow", category="test", outputs={"value": INT})
def slow(
    ctx: Context, steps: Annotated[int, Int(1, 10000)] = 100, value: Annotated[int, Int()] = 0
) -> int:
    """Sleeps in small steps, reporting progress (a cancellation point)."""
    for i in range(steps):
        ctx.progress(i, steps)
        time.sleep(0.01)
    return value


@node("test.Fail", category="test", outputs={"value": INT})
def fail(value: Annotated[int, Int()] = 0) -> int:
    """Always raises."""
    raise RuntimeError(f"boom {value}")


@node("test.Sink", category="test", outputs={}, output=True)
def sink(value: socket("ANY")) -> None:
    """An output node that takes anything."""
    CALLS.append("Sink")


@node("test.Pair", category="test", outputs={"a": INT, "b": INT})
def pair(value: Annotated[int, Int()] = 0) -> dict[str, int]:
    """Two named outputs returned as a dict."""
    return {"a": value, "b": -value}


@node("test.Numbers", category="test", outputs={"numbers": list_of(socket(INT))})
def numbers(text: str = "") -> list[int]:
    """Parse whitespace-separated integers."""
    return [int(t) for t in text.split()]


@node("test.Exit", category="test", outputs={"value": INT})
def exit_node(value: Annotated[int, Int()] = 0) -> int:
    """Calls sys.exit: must fail the node, not hang the run."""
    import sys

    sys.exit(3)


# What the warm hook of test.Warmed was called with, and when it finished.
WARMED: list[tuple[dict, float]] = []
WARMED_DONE = threading.Event()


def _warm_model(values: dict) -> None:
    time.sleep(0.2)  # a model load the run's first nodes overlap with
    WARMED.append((dict(values), time.perf_counter()))
    WARMED_DONE.set()


@node("test.Warmed", category="test", outputs={"value": INT}, warm=_warm_model)
def warmed(value: Annotated[int, Int()] = 0, model: str = "tiny") -> int:
    """Waits for its warm hook (as a voice load waits for a loading voice) and returns value."""
    if not WARMED_DONE.wait(5):
        raise RuntimeError("the warm hook never ran")
    return value
