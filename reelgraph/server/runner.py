"""Executing queued runs in worker processes, never in the server's process.

A pool of `workers` slots; each slot is a thread here plus one long-lived
worker process (worker_proc.py) that keeps its engine, cache and loaded
models between runs. The slot thread claims the oldest queued run from the
store, hands it to its worker, forwards the worker's events to the hub, and
watches the run:

- cancel: cooperative first (the run's CancelToken in the worker), then the
  worker is killed after `cancel_grace_s`; the run ends "cancelled" either way;
- limits: wall time, resident memory and output bytes (limits.py); a run over
  one is stopped the same way and fails naming the limit;
- a worker that dies (a native crash, `os._exit`, the OOM killer) fails only
  its run, naming the node that was running; a new worker starts and the
  queue goes on.

Files: a run writes into `outputs/.partial/<run id>`, renamed to
`outputs/<run id>` when it ends, so a file under its final name is complete.

The store may fail (a full disk): finishing a run is retried until it works,
the failure is reported (`health`, /api/system), and the slot never dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .limits import RunLimits, exceeded
from .paths import UnsafePath, check_tree, open_folder
from .store import RunStore, quarantine_error
from .workers import (
    WorkerDied,
    WorkerProcess,
    WorkerStartFailed,
    crash_message,
    stop_fork_server,
)

log = logging.getLogger("reelgraph.server")


@dataclass
class RunnerSettings:
    workers: int = 1
    cancel_grace_s: float = 5.0
    quarantine_after: int = 2
    limits: RunLimits = field(default_factory=RunLimits.defaults)
    custom_nodes: list[Path] | None = None
    memory_cache_bytes: int | None = None
    confine_roots: list[Path] | None = None  # --confine-loaders: folders loaders may read
    worker_start_timeout_s: float = 300.0


class LiveRun:
    """What the server knows about a run a worker is executing (read by GET /api/runs/{id})."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.nodes: dict[str, dict[str, Any]] = {}
        self.user_cancelled = False
        self.cancel_at: float | None = None
        self.running: dict[str, str] = {}  # node id -> type of the nodes executing now
        self.lock = threading.Lock()

    def node(self, node_id: str) -> dict[str, Any]:
        return self.nodes.setdefault(node_id, {"state": "pending"})

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {k: dict(v) for k, v in self.nodes.items()}


class _Slot:
    def __init__(self, index: int):
        self.index = index
        self.worker: WorkerProcess | None = None
        self.thread: threading.Thread | None = None
        self.live: LiveRun | None = None
        self.spawning = False  # inside WorkerProcess(): the fork server may be starting


class Runner:
    def __init__(self, store: RunStore, data_dir: Path, settings: RunnerSettings | None = None):
        self.store = store
        self.data_dir = data_dir
        self.outputs = data_dir / "outputs"
        self.uploads = data_dir / "uploads"
        self.staging = self.outputs / ".partial"
        self.settings = settings or RunnerSettings()
        self._slots = [_Slot(i) for i in range(max(1, self.settings.workers))]
        self._wake = threading.Condition()
        self._stop = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.publish: Callable[[dict[str, Any]], None] = lambda m: None
        self.publish_binary: Callable[[bytes, str | None], None] = lambda b, r: None
        self.want_previews: Callable[[], bool] = lambda: False
        self._pending: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._pending_lock = threading.Lock()
        self._flush_scheduled = False
        self.runs_done = 0
        self.worker_restarts = 0
        self.cache_stats: Any = None
        self._cancel_requests: set[str] = set()
        self._health_lock = threading.Lock()
        self.store_problem: str | None = None  # why the store cannot be written, while it cannot
        self.worker_problem: str | None = None  # why workers cannot start, while they cannot

    # -- lifecycle -------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        for slot in self._slots:
            slot.thread = threading.Thread(
                target=self._slot_loop,
                args=(slot,),
                name=f"reelgraph-slot-{slot.index}",
                daemon=True,
            )
            slot.thread.start()

    def stop(self) -> None:
        self._stop = True
        self.wake()
        if any(s.spawning for s in self._slots):
            # A slot waits for the fork server, which may still be importing torch: stop
            # it, so the slot's start fails at once instead of holding shutdown seconds.
            stop_fork_server()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for slot in self._slots:
            while slot.thread is not None and slot.thread.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if self._stop and slot.spawning:
                    # stop() may have come before the fork server's pid was known (it was
                    # still being launched): stop it now, or the slot waits for its imports.
                    stop_fork_server()
                slot.thread.join(min(0.05, left))
        for slot in self._slots:
            w = slot.worker
            if w is not None:
                if w.ready:
                    w.stop(timeout=max(0.5, min(3.0, deadline - time.monotonic())))
                else:
                    w.kill()
                slot.worker = None

    def alive(self) -> bool:
        return any(s.thread is not None and s.thread.is_alive() for s in self._slots)

    def wake(self) -> None:
        with self._wake:
            self._wake.notify_all()

    # -- what the API reads -------------------------------------------------------
    @property
    def live(self) -> LiveRun | None:
        """A run executing now (the oldest slot's), for answers that name one."""
        for s in self._slots:
            if s.live is not None:
                return s.live
        return None

    def live_runs(self) -> dict[str, LiveRun]:
        return {s.live.run_id: s.live for s in self._slots if s.live is not None}

    def health(self) -> tuple[bool, list[str]]:
        problems = [p for p in (self.store_problem, self.worker_problem) if p]
        if not self.alive() and not self._stop and any(s.thread for s in self._slots):
            problems.append("the runner's threads have stopped")
        return not problems, problems

    def workers_info(self) -> list[dict[str, Any]]:
        out = []
        for s in self._slots:
            w = s.worker
            out.append(
                {
                    "slot": s.index,
                    "pid": w.pid if w is not None else None,
                    "ready": bool(w and w.ready),
                    "running": s.live.run_id if s.live else None,
                    "runs": w.runs if w is not None else 0,
                }
            )
        return out

    def cancel_running(self, run_id: str) -> bool:
        """Cancel a running run: cooperative now, the worker killed after the grace period."""
        live = self.live_runs().get(run_id)
        if live is None:
            if self.store.status_of(run_id) != "running":
                return False
            self._cancel_requests.add(run_id)  # claimed, not started yet: cancelled as it starts
            live = self.live_runs().get(run_id)
            if live is None:
                return True
        with live.lock:
            live.user_cancelled = True
            if live.cancel_at is None:
                live.cancel_at = time.monotonic()
            live.nodes.setdefault("__run__", {})["cancel_requested"] = True
        return True

    # -- thread -> loop --------------------------------------------------------
    def _to_loop(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop shutting down
                loop.call_soon_threadsafe(fn, *args)

    def _emit(self, message: dict[str, Any]) -> None:
        self._flush_progress()
        self._to_loop(self.publish, message)

    def _flush_progress(self) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, {}
            self._flush_scheduled = False
        for m in pending.values():
            self._to_loop(self.publish, m)

    def _progress(self, message: dict[str, Any]) -> None:
        key = (message.get("run_id"), message.get("node_id"), message.get("item"))
        with self._pending_lock:
            self._pending[key] = message
            if self._flush_scheduled:
                return
            self._flush_scheduled = True
        self._to_loop(self._flush_on_loop)

    def _flush_on_loop(self) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, {}
            self._flush_scheduled = False
        for m in pending.values():
            self.publish(m)

    # -- the store, which may fail ------------------------------------------------
    def _set_store_problem(self, problem: str | None) -> None:
        with self._health_lock:
            changed = problem != self.store_problem
            self.store_problem = problem
        if changed:
            if problem:
                log.error("run store: %s", problem)
            else:
                log.info("run store: writable again")
            self._emit(
                {
                    "type": "server.health",
                    "healthy": problem is None,
                    "problems": [problem] if problem else [],
                    "time": time.time(),
                }
            )

    def store_failed(self, exc: BaseException) -> str:
        problem = f"the run database cannot be written: {type(exc).__name__}: {exc}"
        self._set_store_problem(problem)
        return problem

    def store_ok(self) -> None:
        if self.store_problem is not None:
            self._set_store_problem(None)

    def _store_write(self, what: str, fn: Callable[[], Any]) -> Any:
        """Retry a store write until it works (backing off to 5 s); reported while it fails.
        During shutdown it gives up after a few tries (the run is recovered at the next start)."""
        delay, tries = 0.1, 0
        while True:
            try:
                out = fn()
            except (sqlite3.Error, OSError) as exc:
                tries += 1
                self.store_failed(exc)
                log.warning("run store: %s failed (try %d): %s", what, tries, exc)
                if self._stop and tries >= 3:
                    return None
                with self._wake:
                    self._wake.wait(delay)
                delay = min(5.0, delay * 2)
                continue
            self.store_ok()
            return out

    def probe_store(self) -> None:
        """While the store is failing, try a small write to see whether it recovered."""
        try:
            self.store.probe()
        except (sqlite3.Error, OSError) as exc:
            self.store_failed(exc)
        else:
            self.store_ok()

    # -- the slot loop -------------------------------------------------------------
    def _worker_settings(self) -> dict[str, Any]:
        s = self.settings
        return {
            "custom_nodes": [str(p) for p in s.custom_nodes]
            if s.custom_nodes is not None
            else None,
            "cache_dir": str(self.data_dir / "cache"),
            "memory_cache_bytes": s.memory_cache_bytes,
            "out_dir": str(self.outputs),
            "memory_hard_mb": s.limits.memory_mb,
        }

    def _ensure_worker(self, slot: _Slot) -> WorkerProcess | None:
        w = slot.worker
        if w is not None and w.ready and w.alive():
            return w
        if w is not None and not w.alive():
            w.close()
            slot.worker = w = None
        try:
            if w is None:
                w = self._spawn(slot)
            w.wait_ready(self.settings.worker_start_timeout_s, stop=lambda: self._stop)
        except (WorkerStartFailed, OSError) as exc:
            slot.worker = None
            if self._stop:
                return None
            self.worker_problem = f"a worker process cannot start: {exc}"
            log.error("%s", self.worker_problem)
            return None
        self.worker_problem = None
        slot.worker = w
        return w

    def _spawn(self, slot: _Slot) -> WorkerProcess:
        slot.spawning = True
        try:
            if self._stop:
                raise WorkerStartFailed("the server is stopping")
            w = WorkerProcess(self._worker_settings(), name=f"reelgraph-worker-{slot.index}")
        except EOFError:  # the fork server was stopped under it (shutdown)
            raise WorkerStartFailed("the worker's fork server stopped") from None
        finally:
            slot.spawning = False
        slot.worker = w  # (so a stopping server kills it even while it starts)
        return w

    def _slot_loop(self, slot: _Slot) -> None:
        backoff = 0.5
        while not self._stop:
            try:
                worker = self._ensure_worker(slot)
                if worker is None:
                    if self._stop:
                        break
                    with self._wake:
                        self._wake.wait(backoff)
                    backoff = min(10.0, backoff * 2)
                    continue
                backoff = 0.5
                if self.store_problem is not None:
                    self.probe_store()
                try:
                    row = self.store.claim_next()
                except (sqlite3.Error, OSError) as exc:
                    self.store_failed(exc)
                    with self._wake:
                        self._wake.wait(1.0)
                    continue
                if row is None:
                    with self._wake:
                        self._wake.wait(1.0)
                    continue
                self._execute(slot, worker, row)
                self.runs_done += 1
            except Exception:  # the slot must survive anything: log it, and go on
                log.exception("runner slot %d", slot.index)
                slot.live = None
                with self._wake:
                    self._wake.wait(1.0)

    def _execute(self, slot: _Slot, worker: WorkerProcess, row: dict[str, Any]) -> None:
        run_id = row["id"]
        limits = RunLimits.from_dict(row.get("limits"), self.settings.limits)
        live = LiveRun(run_id)
        if run_id in self._cancel_requests:
            self._cancel_requests.discard(run_id)
            live.user_cancelled = True
            live.cancel_at = time.monotonic()
        slot.live = live
        stage = self.staging / run_id
        final = self.outputs / run_id
        self._emit(
            {
                "type": "run.started",
                "run_id": run_id,
                "attempt": row["attempts"],
                "time": time.time(),
            }
        )
        job = {
            "run_id": run_id,
            "workflow": row["workflow"],
            "params": row["params"] or {},
            "targets": row["targets"],
            "stage": str(stage),
            "outputs_dir": str(self.outputs),
            "uploads_dir": str(self.uploads),
            "limits": limits.to_dict(),
            "fresh_stage": False,  # prepare_stage made it, following no symlink
            "confine": [str(p) for p in self.settings.confine_roots]
            if self.settings.confine_roots
            else None,
        }
        t0 = time.monotonic()
        try:
            prepare_stage(self.data_dir, run_id)
        except (UnsafePath, OSError) as exc:
            outcome: dict[str, Any] = {"kind": "refused", "message": str(exc)}
        else:
            outcome = self._watch(worker, live, job, limits, stage, t0)
        kind = outcome["kind"]
        if kind not in ("done", "refused"):
            # The worker is gone (killed here, or died): its replacement starts now, while
            # this run's end is recorded, so the next run waits as little as possible.
            slot.worker = None
            self.worker_restarts += 1
            if not self._stop:
                try:
                    self._spawn(slot)
                except OSError as exc:
                    log.error("cannot start a worker: %s", exc)
        if kind == "shutdown":
            # Interrupted by a server shutdown, not by a user: back to the queue, restarted next time.
            shutil.rmtree(stage, ignore_errors=True)
            self._store_write("requeue", lambda: self.store.requeue(run_id))
            slot.live = None
            return
        status, error, outputs, warnings, keep = "failed", None, {}, [], set()
        summary: dict[str, Any] = {}
        if kind == "refused":
            error = {"message": f"the run's output folder cannot be used: {outcome['message']}"}
        if kind == "done":
            result = outcome["result"]
            status = result["status"]
            error = result.get("error")
            outputs = result.get("outputs") or {}
            warnings = result.get("warnings") or []
            summary = result.get("summary") or {}
            keep = set(result["keep"]) if result.get("keep") is not None else None
            if result.get("cache") is not None:
                self.cache_stats = result["cache"]
            error = _annotate_limit_errors(error, limits)
        if outcome.get("limit"):
            name, detail = outcome["limit"]
            status = "failed"
            error = {"message": exceeded(name, getattr(limits, name), detail), "limit": name}
        elif live.user_cancelled and status != "finished":
            status = "cancelled"
            if kind == "killed":
                summary["killed"] = True
                error = None
        elif kind == "died":
            crashes = self._store_write("count crash", lambda: self.store.add_crash(run_id)) or 1
            message = crash_message(dict(live.running), outcome["how"])
            error = {"message": message, "crashes": crashes, "worker_died": outcome["how"]}
            nid = next(reversed(live.running), None) if live.running else None
            if nid is not None:
                error["node_id"] = nid
                with live.lock:
                    live.node(nid).update(state="failed", error={"message": message})
            if self.settings.quarantine_after and crashes >= self.settings.quarantine_after:
                error = {**quarantine_error(crashes, message), **error}
                error["message"] = f"quarantined after {crashes} crashes: {message}"
        summary.setdefault("seconds", time.monotonic() - t0)
        summary["status"] = status
        try:
            check_tree(self.data_dir, "outputs")
            publish_outputs(stage, final, keep)
        except (OSError, UnsafePath) as exc:
            log.error("run %s: cannot publish its outputs: %s", run_id, exc)
        nodes = live.snapshot()
        nodes.pop("__run__", None)
        for st in nodes.values():
            if st.get("state") == "running":
                st["state"] = "cancelled" if status == "cancelled" else "failed"
        self._store_write(
            "finish",
            lambda: self.store.finish(
                run_id,
                status,
                nodes=nodes,
                outputs=outputs,
                error=error,
                warnings=warnings,
                summary=summary,
            ),
        )
        slot.live = None
        self._emit(
            {
                "type": f"run.{status}",
                "run_id": run_id,
                "time": time.time(),
                **summary,
                **({"error": error} if error else {}),
            }
        )

    def _watch(
        self,
        worker: WorkerProcess,
        live: LiveRun,
        job: dict[str, Any],
        limits: RunLimits,
        stage: Path,
        t0: float,
    ) -> dict[str, Any]:
        """Send the job and follow it to its end: done, killed (cancel or a limit), died, shutdown."""
        grace = self.settings.cancel_grace_s
        limit: tuple[str, str] | None = None
        kill_at: float | None = None
        shutdown = False
        next_check = 0.0
        worker.runs += 1
        try:
            # Set before the job goes out: a quick node previews before the loop below runs,
            # and the flag still held the last run's answer (previews lost: a flaky test).
            worker.previews.value = 1 if self.want_previews() else 0
            worker.send(("run", job))
            while True:
                worker.previews.value = 1 if self.want_previews() else 0
                msg = worker.recv(0.05)
                if msg is not None:
                    if msg[0] == "done":
                        if shutdown and msg[1].get("status") != "finished":
                            return {"kind": "shutdown"}  # stopped by the server's stop, not a user
                        out: dict[str, Any] = {"kind": "done", "result": msg[1]}
                        if limit:
                            out["limit"] = limit
                        return out
                    self._on_message(live, msg)
                    if time.monotonic() < next_check:
                        continue
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + 0.25
                    if limit is None:
                        limit = self._over_limit(worker, limits, stage, now - t0)
                        if limit is not None and limit[0] == "memory_mb":
                            worker.kill()  # memory is not given a grace period
                            return {"kind": "killed", "limit": limit}
                if (
                    live.user_cancelled or limit or (self._stop and not shutdown)
                ) and kill_at is None:
                    shutdown = self._stop and not live.user_cancelled and not limit
                    worker.send(("cancel", live.run_id))
                    started = live.cancel_at if live.user_cancelled and live.cancel_at else now
                    kill_at = started + (min(grace, 2.0) if shutdown else grace)
                if kill_at is not None and now >= kill_at:
                    worker.kill()
                    if shutdown:
                        return {"kind": "shutdown"}
                    return {"kind": "killed", **({"limit": limit} if limit else {})}
        except WorkerDied as exc:
            if shutdown:
                return {"kind": "shutdown"}
            return {"kind": "died", "how": exc.how, **({"limit": limit} if limit else {})}

    def _over_limit(
        self, worker: WorkerProcess, limits: RunLimits, stage: Path, elapsed: float
    ) -> tuple[str, str] | None:
        if limits.seconds and elapsed > limits.seconds:
            return "seconds", f"stopped after {elapsed:.1f} s"
        if limits.memory_mb:
            rss = worker.rss_bytes()
            if rss > limits.memory_mb << 20:
                return "memory_mb", f"the worker held {rss >> 20} MiB"
        if limits.output_mb:
            used = folder_bytes(stage)
            if used > limits.output_mb << 20:
                return "output_mb", f"{used >> 20} MiB written"
        return None

    def _on_message(self, live: LiveRun, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "preview":
            self._to_loop(self.publish_binary, msg[1], msg[2])
        elif kind == "event":
            self._listen(live, msg[1])

    def _listen(self, live: LiveRun, msg: dict[str, Any]) -> None:
        t = msg.get("type")
        nid = msg.get("node_id")
        if nid is not None:
            with live.lock:
                st = live.node(nid)
                if "node_type" in msg:
                    st["type"] = msg["node_type"]
                if t == "node.started":
                    st.update(state="running", started=msg.get("time"))
                    live.running[nid] = str(msg.get("node_type") or st.get("type") or "?")
                elif t == "node.progress":
                    st["progress"] = {
                        k: msg[k] for k in ("value", "max", "text", "item") if k in msg
                    }
                elif t == "node.cached":
                    st.update(state="cached", seconds=0.0)
                    live.running.pop(nid, None)
                elif t == "node.finished":
                    st.update(
                        state="finished",
                        seconds=msg.get("seconds"),
                        peak_rss_mb=msg.get("peak_rss_mb"),
                    )
                    st.pop("progress", None)
                    live.running.pop(nid, None)
                elif t == "node.failed":
                    st.update(
                        state="failed", error={k: v for k, v in msg.items() if k != "traceback"}
                    )
                    live.running.pop(nid, None)
        if t == "node.progress":
            self._progress(msg)
        else:
            self._emit(msg)


def _annotate_limit_errors(error: Any, limits: RunLimits) -> Any:
    """A node that hit the address-space or file-size limit says so in the run's error."""
    if not isinstance(error, dict):
        return error
    text = str(error.get("message", "")) + " ".join(
        str(f.get("message", "")) for f in error.get("failures", []) if isinstance(f, dict)
    )
    hint = None
    if limits.memory_mb and ("MemoryError" in text or "Cannot allocate memory" in text):
        hint = exceeded("memory_mb", limits.memory_mb, "an allocation was refused")
    elif limits.output_mb and "File too large" in text:
        hint = exceeded("output_mb", limits.output_mb, "a file reached the limit")
    if hint:
        error = {**error, "message": f"{error.get('message', '')} ({hint})", "limit_hint": hint}
    return error


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


def folder_bytes(folder: Path) -> int:
    total = 0
    stack = [str(folder)]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    try:
                        if e.is_dir(follow_symlinks=False):
                            stack.append(e.path)
                        elif e.is_file(follow_symlinks=False):
                            total += e.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return total


def files_in(outputs: Any, prefix: str) -> set[str]:
    """Names inside the run folder (served under `prefix`) of the files the outputs point at."""
    found: set[str] = set()
    stack = [outputs]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            f = v.get("file")
            if isinstance(f, str) and f.startswith(prefix):
                found.add(f[len(prefix) :])
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return found


def prepare_stage(data_dir: Path, run_id: str) -> None:
    """A fresh, empty outputs/.partial/<run id>, made without following any symlink
    (a link planted at outputs, .partial or the run's folder is refused or removed)."""
    stage = data_dir / "outputs" / ".partial" / run_id
    check_tree(data_dir, "outputs")
    if stage.is_symlink():
        stage.unlink()
    elif stage.exists():
        shutil.rmtree(stage)
    os.close(open_folder(data_dir, f"outputs/.partial/{run_id}", create=True))


def publish_outputs(stage: Path, final: Path, keep: set[str] | None) -> None:
    """Move the staging folder to its final name. `keep` (for failed or cancelled runs):
    only files a finished node reported survive; anything else may be half-written.
    Symbolic links a node left are removed, never followed."""
    if not stage.is_dir() or stage.is_symlink():
        return
    shutil.rmtree(stage / ".tmp", ignore_errors=True)
    for dirpath, dirs, files in os.walk(stage):
        for name in [*files, *(d for d in dirs if os.path.islink(os.path.join(dirpath, d)))]:
            p = Path(dirpath) / name
            rel = p.relative_to(stage).as_posix()
            if p.is_symlink() or name.startswith(".") or (keep is not None and rel not in keep):
                p.unlink(missing_ok=True)
    if final.is_symlink():
        final.unlink()
    shutil.rmtree(final, ignore_errors=True)
    if any(stage.rglob("*")):
        os.replace(stage, final)
    else:
        shutil.rmtree(stage, ignore_errors=True)
