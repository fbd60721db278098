"""The parent's handle on one worker process, and `run_isolated` for the CLI.

Workers come from multiprocessing's "forkserver" context (where the platform
has it, else "spawn"): the server has threads and an event loop, so it is
never forked itself. The fork server preloads the engine, the built-in node
packs and torch, so a replacement for a crashed worker is ready in a fraction
of a second instead of paying every import again. `run_isolated` (one run, no
replacement to prepare) spawns its single worker directly instead.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_PRELOAD = ["reelgraph.server.worker_proc", "reelgraph.engine", "reelgraph.nodes", "torch"]
_ctx_lock = threading.Lock()
_ctx: Any = None


def context() -> Any:
    global _ctx
    with _ctx_lock:
        if _ctx is None:
            if "forkserver" in mp.get_all_start_methods():
                _ctx = mp.get_context("forkserver")
                _ctx.set_forkserver_preload(_PRELOAD)
            else:
                _ctx = mp.get_context("spawn")
        return _ctx


def stop_fork_server() -> None:
    """SIGKILL the fork server, if one was started (at shutdown only). A worker start
    blocked on it, while it still imports its preloads, then fails at once (EOFError)
    instead of holding the server's exit for seconds; nothing was forked yet, so nothing
    is left behind. multiprocessing has no public handle on it: its pid is read from
    the module's (long-stable) private state, and a missing attribute means no server."""
    if _ctx is None or _ctx.get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    pid = getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)
    if isinstance(pid, int) and pid > 0:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class WorkerDied(Exception):
    def __init__(self, how: str):
        super().__init__(how)
        self.how = how


class WorkerStartFailed(RuntimeError):
    pass


def describe_exit(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown"
        return f"signal {-code} ({name})"
    return f"exit code {code}"


class WorkerProcess:
    """One worker: start it, hand it a job, read what it says, kill it."""

    def __init__(self, settings: dict[str, Any], name: str = "reelgraph-worker", ctx: Any = None):
        ctx = ctx or context()
        self.conn, child = ctx.Pipe(duplex=True)
        self.previews = ctx.Value("b", 0, lock=False)
        from .worker_proc import worker_main

        # Not a daemon: a node may start processes of its own (daemons may not).
        self.proc = ctx.Process(
            target=worker_main, args=(child, settings, self.previews), name=name
        )
        self.proc.start()
        child.close()
        self.pid = self.proc.pid
        self.ready = False
        self.info: dict[str, Any] = {}
        self.started = time.monotonic()
        self.runs = 0

    def wait_ready(self, timeout: float, stop: Callable[[], bool] = lambda: False) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready:
            if stop():
                self.kill()
                raise WorkerStartFailed("the server is stopping")
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise WorkerStartFailed(f"the worker did not start within {timeout:g} s")
            try:
                msg = self.recv(min(left, 0.1))
            except WorkerDied as exc:
                raise WorkerStartFailed(f"the worker died while starting: {exc.how}") from None
            if msg is not None and msg[0] == "ready":
                self.ready = True
                self.info = msg[1]

    def send(self, message: tuple[Any, ...]) -> None:
        try:
            self.conn.send(message)
        except (OSError, EOFError, ValueError):
            raise WorkerDied(self._death()) from None

    def recv(self, timeout: float) -> tuple[Any, ...] | None:
        """The next message, None after `timeout` s of silence; WorkerDied when it is gone."""
        try:
            if not self.conn.poll(timeout):
                if not self.proc.is_alive():
                    raise WorkerDied(self._death())
                return None
            return self.conn.recv()
        except (EOFError, OSError):
            raise WorkerDied(self._death()) from None

    def _death(self) -> str:
        self.proc.join(2.0)
        return describe_exit(self.proc.exitcode)

    def alive(self) -> bool:
        return self.proc.is_alive()

    def rss_bytes(self) -> int:
        """Resident memory of the worker and any processes its nodes started."""
        try:
            import psutil

            p = psutil.Process(self.pid)
            total = p.memory_info().rss
            for c in p.children(recursive=True):
                try:
                    total += c.memory_info().rss
                except psutil.Error:
                    pass
            return int(total)
        except Exception:
            return 0

    def kill(self) -> None:
        """SIGKILL the worker and whatever its nodes started."""
        try:
            import psutil

            kids = psutil.Process(self.pid).children(recursive=True)
        except Exception:
            kids = []
        if self.proc.is_alive():
            self.proc.kill()
        for k in kids:
            try:
                k.kill()
            except Exception:
                pass
        self.proc.join(5.0)
        self.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask it to finish; kill it if it does not."""
        try:
            self.conn.send(("stop",))
        except (OSError, EOFError, ValueError):
            pass
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.kill()
        self.close()

    def close(self) -> None:
        try:
            self.conn.close()
        except OSError:
            pass


def run_isolated(
    workflow: Any,
    *,
    params: dict[str, Any] | None = None,
    targets: list[str] | None = None,
    out_dir: Path | str = "out",
    listener: Callable[[Any], None] | None = None,
    cancel: Any = None,
    custom_nodes: list[Path] | None = None,
    cache_dir: Path | str | None = None,
    memory_cache_bytes: int | None = None,
    cancel_grace_s: float = 5.0,
    run_id: str | None = None,
) -> Any:
    """Run one workflow in a fresh worker process (`reelgraph run --isolate`).

    Same arguments and result as `Engine.run` (a RunResult whose output values are
    paths, numbers and text): the CLI keeps its progress display. A node that
    crashes the worker fails the run with the node named; `cancel` (a CancelToken)
    is cooperative first, then the worker is killed after `cancel_grace_s`."""
    import uuid

    from reelgraph.engine import Event, NodeFailure, RunResult
    from reelgraph.engine.workflow import Workflow

    doc = workflow.doc if isinstance(workflow, Workflow) else workflow
    run_id = run_id or uuid.uuid4().hex[:12]
    out = Path(out_dir).resolve()
    settings = {
        "custom_nodes": [str(p) for p in custom_nodes] if custom_nodes is not None else None,
        "cache_dir": str(cache_dir) if cache_dir else None,
        "memory_cache_bytes": memory_cache_bytes,
        "out_dir": str(out),
    }
    # One run, one worker, no replacement to have ready: a plain "spawn" start needs no fork
    # server (a second interpreter that preloads torch, seconds even for a run without it).
    worker = WorkerProcess(settings, name="reelgraph-isolated", ctx=mp.get_context("spawn"))
    running: dict[str, str] = {}  # node id -> type, for naming the node a crash took down
    t0 = time.perf_counter()
    try:
        worker.wait_ready(300)
        job = {
            "run_id": run_id,
            "workflow": doc,
            "params": params or {},
            "targets": targets,
            "stage": str(out),
            "fresh_stage": False,
            "mode": "cli",
        }
        worker.send(("run", job))
        kill_at = None
        while True:
            if cancel is not None and cancel.cancelled and kill_at is None:
                worker.send(("cancel", run_id))
                kill_at = time.monotonic() + cancel_grace_s
            if kill_at is not None and time.monotonic() >= kill_at:
                worker.kill()
                return _ended(RunResult, run_id, "cancelled", {}, t0, out)
            msg = worker.recv(0.1)
            if msg is None:
                continue
            if msg[0] == "event":
                data = dict(msg[1])
                ev = Event(
                    data.pop("type"), data.pop("run_id", run_id), data.pop("node_id", None), {}, 0.0
                )
                ev.time = data.pop("time", time.time())
                ev.data = data
                _track(running, ev.type, ev.node_id, data)
                if listener is not None:
                    listener(ev)
            elif msg[0] == "done":
                result = msg[1]
                if "run_result" in result:
                    return result["run_result"]
                from reelgraph.engine import WorkflowError

                raise WorkflowError(
                    [_issue(i) for i in (result.get("error") or {}).get("issues", [])]
                )
    except WorkerDied as exc:
        failure = NodeFailure(*_crash_failure(running, exc.how))
        return _ended(RunResult, run_id, "failed", {failure.node_id: failure}, t0, out)
    finally:
        if worker.alive():
            worker.stop()


def _issue(data: dict[str, Any]) -> Any:
    from reelgraph.engine import Issue

    return Issue(
        **{
            k: data[k]
            for k in ("code", "message", "node", "input", "file", "severity")
            if k in data
        }
    )


def _track(running: dict[str, str], kind: str, node_id: str | None, data: dict[str, Any]) -> None:
    if node_id is None:
        return
    if kind == "node.started":
        running[node_id] = str(data.get("node_type") or "?")
    elif kind in ("node.finished", "node.failed", "node.cached"):
        running.pop(node_id, None)


def crash_message(running: dict[str, str], how: str) -> str:
    if running:
        nid, ntype = next(reversed(running.items()))
        return f"the worker running node {nid} ({ntype}) died: {how}"
    return f"the worker running this run died: {how}"


def _crash_failure(running: dict[str, str], how: str) -> tuple[str, str, str]:
    if running:
        nid, ntype = next(reversed(running.items()))
    else:
        nid, ntype = "?", "?"
    return nid, ntype, crash_message(running, how)


def _ended(cls: Any, run_id: str, status: str, failed: dict[str, Any], t0: float, out: Path) -> Any:
    return cls(
        run_id=run_id,
        status=status,
        outputs={},
        executed=[],
        cached=[],
        failed=failed,
        skipped=[],
        timings={},
        warnings=[],
        wall_s=time.perf_counter() - t0,
        out_dir=out,
    )


__all__ = [
    "WorkerDied",
    "WorkerProcess",
    "context",
    "crash_message",
    "describe_exit",
    "run_isolated",
]
