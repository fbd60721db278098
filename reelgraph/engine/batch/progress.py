"""Batch progress on stderr: rows done / total with an ETA, and what each running row does.

On a terminal it is a live display; otherwise (a log file, CI) one line per
finished row and a heartbeat line at most every `heartbeat_s` seconds.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO


def _clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02}:{s % 60:02}" if s >= 3600 else f"{s // 60}:{s % 60:02}"


class BatchProgress:
    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        quiet: bool = False,
        heartbeat_s: float = 30.0,
    ):
        self.total = total
        self.done = 0
        self.failed = 0
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.live = not quiet and self.stream.isatty()
        self.heartbeat_s = heartbeat_s
        self.started = time.monotonic()
        self.last_line = self.started
        self.running: dict[int, str] = {}  # row -> "stem: what it is doing"
        self.stems: dict[int, str] = {}
        self.lock = threading.Lock()
        self._durations: list[float] = []

    def eta(self) -> float | None:
        if not self.done:
            return None
        elapsed = time.monotonic() - self.started
        return elapsed / self.done * (self.total - self.done)

    def status_line(self) -> str:
        eta = self.eta()
        running = ", ".join(list(self.running.values())[:4])
        more = f" +{len(self.running) - 4}" if len(self.running) > 4 else ""
        return (
            f"rows {self.done}/{self.total}"
            + (f", {self.failed} failed" if self.failed else "")
            + f", {_clock(time.monotonic() - self.started)} elapsed"
            + (f", ETA {_clock(eta)}" if eta is not None else "")
            + (f" | running: {running}{more}" if running else "")
        )

    def _print(self, text: str, *, final: bool = True) -> None:
        if self.quiet:
            return
        if self.live:
            self.stream.write("\r\x1b[2K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self.last_line = time.monotonic()

    def row_submitted(self, number: int, stem: str, started: bool) -> None:
        """`started`: the executor gives no events, so count the row as running now."""
        with self.lock:
            self.stems[number] = stem
            if started:
                self.running[number] = stem

    def event(self, number: int, ev: Any) -> None:
        """Engine events of a running row (threads executor): show the node it runs."""
        if ev.type not in ("run.started", "node.started", "node.progress"):
            return
        with self.lock:
            if ev.type == "run.started":
                self.running[number] = self.stems.get(number, str(number))
                return
            if number in self.running:
                what = ev.data.get("node_type") or ev.node_id
                if ev.type == "node.progress" and ev.data.get("max"):
                    what = f"{ev.node_id} {ev.data.get('value', 0):g}/{ev.data['max']:g}"
                self.running[number] = f"{self.stems.get(number, number)}: {what}"

    def row_finished(self, number: int, status: str, seconds: float, detail: str = "") -> None:
        with self.lock:
            self.running.pop(number, None)
            self.done += 1
            if status != "ok":
                self.failed += 1
            stem = self.stems.get(number, str(number))
            self._print(
                f"[{self.done}/{self.total}] row {number} {stem}: {status} in {seconds:.1f} s"
                + (f" ({detail})" if detail else "")
                + (
                    f", ETA {_clock(e)}"
                    if (e := self.eta()) is not None and self.done < self.total
                    else ""
                )
            )

    def tick(self) -> None:
        with self.lock:
            if self.live:
                self._print(self.status_line(), final=False)
            elif time.monotonic() - self.last_line >= self.heartbeat_s:
                self._print(self.status_line())

    def close(self) -> None:
        if self.live and not self.quiet:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
