"""How `reelgraph run` shows a run's progress, from the engine's events.

On a terminal: a live bar (rich). Anywhere else (a log file, a pipe, CI): plain lines on
stderr, one when a node starts and one when it finishes or fails, and one per running
node at least every `interval` seconds, so a long render is never minutes of silence.
Every line says where the run is: nodes done/total and the time since the run started.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from .scheduler import Event

NodeTypeOf = Callable[[str], str]


class LiveProgress:
    """One bar for the run and the running nodes beside it (for a terminal)."""

    def __init__(self, console: Any, type_of: NodeTypeOf):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.type_of = type_of
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task("run", total=None, detail="planning")
        self.running: dict[str, str] = {}
        self.lock = threading.Lock()

    def start(self) -> None:
        self.progress.start()

    def close(self) -> None:
        self.progress.stop()

    def __call__(self, ev: Event) -> None:
        with self.lock:
            if ev.type == "run.scheduled":
                self.progress.update(
                    self.task,
                    total=max(1, ev.data["to_run"]),
                    completed=0,
                    detail=f"{ev.data['cached']} cached",
                )
            elif ev.type == "node.started" and ev.node_id:
                self.running[ev.node_id] = ev.data.get("node_type", "")
            elif ev.type == "node.progress" and ev.node_id in self.running:
                v, m = ev.data.get("value", 0), ev.data.get("max", 0)
                self.running[ev.node_id] = f"{self.type_of(ev.node_id)} {v:g}/{m:g}"
            elif ev.type in ("node.finished", "node.failed") and ev.node_id:
                self.running.pop(ev.node_id, None)
                self.progress.advance(self.task)
            detail = ", ".join(f"{k} ({v})" for k, v in list(self.running.items())[:3])
            if detail:
                self.progress.update(self.task, detail=detail)


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class LineProgress:
    """Plain progress lines for a stream that is not a terminal."""

    def __init__(
        self,
        stream: TextIO,
        type_of: NodeTypeOf,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.stream = stream
        self.type_of = type_of
        self.interval = interval
        self.clock = clock
        self.t0 = clock()
        self.total: int | None = None
        self.done = 0
        self.running: dict[str, float] = {}  # node id -> when it started
        self.last_progress: dict[str, str] = {}  # node id -> "45/120" from ctx.progress
        self.last_line: dict[str, float] = {}  # node id -> when its last "running" line was
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def start(self) -> None:
        self._ticker = threading.Thread(target=self._tick, name="reelgraph-progress", daemon=True)
        self._ticker.start()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()

    def _line(self, text: str) -> None:
        total = "?" if self.total is None else str(self.total)
        now = self.clock()
        try:
            self.stream.write(f"[{self.done}/{total} {_clock(now - self.t0)}] {text}\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed pipe must not break the run

    def _tick(self) -> None:
        # Wake often, speak rarely: a node gets a line once `interval` has passed since its
        # last one, so short nodes stay quiet and long ones report on time.
        while not self._stop.wait(min(1.0, self.interval / 4)):
            with self.lock:
                now = self.clock()
                for nid, started in self.running.items():
                    if now - self.last_line.get(nid, started) < self.interval:
                        continue
                    self.last_line[nid] = now
                    step = self.last_progress.get(nid)
                    where = f" {step}," if step else ""
                    self._line(f"running {nid} ({self.type_of(nid)}){where} {now - started:.1f} s")

    def __call__(self, ev: Event) -> None:
        nid = ev.node_id
        with self.lock:
            if ev.type == "run.scheduled":
                self.total = int(ev.data.get("to_run", 0))
                self._line(f"run: {self.total} node(s) to run, {ev.data.get('cached', 0)} cached")
            elif ev.type == "node.started" and nid:
                self.running[nid] = self.clock()
                self._line(f"start   {nid} ({self.type_of(nid)})")
            elif ev.type == "node.progress" and nid in self.running:
                v, m = ev.data.get("value", 0), ev.data.get("max", 0)
                self.last_progress[nid] = f"{v:g}/{m:g}"
            elif ev.type == "node.finished" and nid:
                started = self.running.pop(nid, None)
                self.last_progress.pop(nid, None)
                self.last_line.pop(nid, None)
                self.done += 1
                seconds = ev.data.get("seconds")
                if seconds is None and started is not None:
                    seconds = self.clock() - started
                self._line(f"done    {nid} ({self.type_of(nid)}) in {seconds or 0:.1f} s")
            elif ev.type == "node.failed" and nid:
                self.running.pop(nid, None)
                self.last_progress.pop(nid, None)
                self.last_line.pop(nid, None)
                self.done += 1
                self._line(f"failed  {nid} ({self.type_of(nid)}): {ev.data.get('message', '')}")
            elif ev.type in ("run.finished", "run.failed", "run.cancelled"):
                status = ev.type.split(".", 1)[1]
                self._line(f"run {status} in {ev.data.get('seconds', 0):.1f} s")
