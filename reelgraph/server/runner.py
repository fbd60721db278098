"""The one worker that executes queued runs, off the event loop.

The worker thread claims the oldest queued run from the store, runs it with
`Engine.run` into a staging folder (`outputs/.partial/<run id>`), and publishes
the files when the run ends by renaming the folder to `outputs/<run id>`: a
file under its final name is always a complete one. A killed server leaves
only the staging folder, which the restarted run wipes and rebuilds.

Engine events arrive on worker threads. Progress is coalesced here before it
crosses to the loop (one `call_soon_threadsafe` per burst, not per event);
previews are encoded to JPEG/WAV here, and only when someone is listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .previews import describe, encode_preview
from .store import RunStore


class LiveRun:
    """What the worker knows about the run it is executing (read by GET /api/runs/{id})."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.nodes: dict[str, dict[str, Any]] = {}
        self.cancel: Any = None  # engine.CancelToken once the run starts
        self.user_cancelled = False
        self.lock = threading.Lock()

    def node(self, node_id: str) -> dict[str, Any]:
        return self.nodes.setdefault(node_id, {"state": "pending"})

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {k: dict(v) for k, v in self.nodes.items()}


class Runner:
    def __init__(self, store: RunStore, data_dir: Path, engine_factory: Callable[[], Any]):
        self.store = store
        self.data_dir = data_dir
        self.outputs = data_dir / "outputs"
        self.staging = self.outputs / ".partial"
        self._engine_factory = engine_factory
        self.engine: Any = None
        self.live: LiveRun | None = None
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.publish: Callable[[dict[str, Any]], None] = lambda m: None
        self.publish_binary: Callable[[bytes, str | None], None] = lambda b, r: None
        self.want_previews: Callable[[], bool] = lambda: False
        self._pending: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._pending_lock = threading.Lock()
        self._flush_scheduled = False
        self.runs_done = 0
        self._cancel_requests: set[str] = set()

    # -- lifecycle -------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._thread = threading.Thread(target=self._loop, name="reelgraph-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop = True
        live = self.live
        if live is not None and live.cancel is not None:
            live.cancel.cancel()
        self._wake.set()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        self._wake.set()

    def cancel_running(self, run_id: str) -> bool:
        """Cancel the run the worker is executing (or has just claimed, per the database)."""
        live = self.live
        if live is None or live.run_id != run_id:
            if self.store.status_of(run_id) != "running":
                return False
            self._cancel_requests.add(run_id)  # claimed, not started yet: cancelled as it starts
            live = self.live
            if live is None or live.run_id != run_id:
                return True
        with live.lock:
            live.user_cancelled = True
            live.nodes.setdefault("__run__", {})["cancel_requested"] = True
        if live.cancel is not None:
            live.cancel.cancel()
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
        key = (message.get("node_id"), message.get("item"))
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

    # -- the worker loop -------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop:
            row = self.store.claim_next()
            if row is None:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            try:
                self._execute(row)
            except Exception:  # the worker must survive anything a run does
                error = {"message": "internal error", "traceback": traceback.format_exc()}
                self.live = None
                self.store.finish(
                    row["id"],
                    "failed",
                    nodes={},
                    outputs={},
                    error=error,
                    warnings=[],
                    summary={"status": "failed"},
                )
                self._emit(
                    {
                        "type": "run.failed",
                        "run_id": row["id"],
                        "status": "failed",
                        "time": time.time(),
                        "error": error,
                    }
                )
            self.runs_done += 1

    def _execute(self, row: dict[str, Any]) -> None:
        from reelgraph.engine import CancelToken, WorkflowError
        from reelgraph.engine.workflow import parse_workflow

        run_id = row["id"]
        live = LiveRun(run_id)
        live.cancel = CancelToken()
        self.live = live
        if run_id in self._cancel_requests:
            self._cancel_requests.discard(run_id)
            live.user_cancelled = True
            live.cancel.cancel()
        stage = self.staging / run_id
        final = self.outputs / run_id
        shutil.rmtree(stage, ignore_errors=True)  # a previous attempt killed mid-way
        stage.mkdir(parents=True, exist_ok=True)
        self._emit(
            {
                "type": "run.started",
                "run_id": run_id,
                "attempt": row["attempts"],
                "time": time.time(),
            }
        )
        if self.engine is None:
            self.engine = self._engine_factory()
        status, error, outputs, warnings = "failed", None, {}, []
        summary: dict[str, Any] = {}
        t0 = time.perf_counter()
        try:
            wf = parse_workflow(row["workflow"])
            result = self.engine.run(
                wf,
                params=row["params"] or {},
                targets=row["targets"],
                out_dir=stage,
                listener=lambda ev: self._listen(live, ev),
                cancel=live.cancel,
                run_id=run_id,
            )
            status = result.status
            self.engine.cache.flush()
            # Most specific first: the staging folder becomes the run's final folder.
            roots = {
                os.path.realpath(stage): f"outputs/{run_id}",
                os.path.realpath(self.outputs): "outputs",
                os.path.realpath(self.data_dir / "uploads"): "uploads",
            }
            outputs = {
                nid: {k: describe(v, roots) for k, v in outs.items()}
                for nid, outs in result.outputs.items()
            }
            warnings = [w.to_dict() for w in result.warnings]
            if result.failed:
                first = next(iter(result.failed.values()))
                error = {
                    "message": str(first),
                    "node_id": first.node_id,
                    "failures": [f.to_dict() for f in result.failed.values()],
                }
            summary = {
                "status": status,
                "seconds": result.wall_s,
                "executed": len(result.executed),
                "cached": len(result.cached),
                "failed": len(result.failed),
                "skipped": len(result.skipped),
            }
            keep = _files_in(outputs, f"outputs/{run_id}/") if status != "finished" else None
        except WorkflowError as exc:
            # Valid when queued, invalid now (a node pack changed between restarts).
            error = {"message": str(exc), "issues": [i.to_dict() for i in exc.issues]}
            summary = {"status": "failed"}
            keep = set()
        except Exception as exc:
            error = {"message": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
            summary = {"status": "failed"}
            keep = set()
        if self._stop and not live.user_cancelled:
            # Interrupted by a server shutdown, not by a user: back to the queue, restarted next time.
            shutil.rmtree(stage, ignore_errors=True)
            self.store.requeue(run_id)
            self.live = None
            return
        if live.cancel.cancelled and status != "cancelled":
            status = "cancelled" if status != "finished" else status
        summary.setdefault("seconds", time.perf_counter() - t0)
        summary["status"] = status
        _publish_outputs(stage, final, run_id, keep)
        nodes = live.snapshot()
        nodes.pop("__run__", None)
        self.store.finish(
            run_id,
            status,
            nodes=nodes,
            outputs=outputs,
            error=error,
            warnings=warnings,
            summary=summary,
        )
        self.live = None
        self._emit(
            {
                "type": f"run.{status}",
                "run_id": run_id,
                "time": time.time(),
                **summary,
                **({"error": error} if error else {}),
            }
        )

    def _listen(self, live: LiveRun, ev: Any) -> None:
        """Engine listener: runs on worker/pool threads."""
        t = ev.type
        if t in ("run.started", "run.finished", "run.failed", "run.cancelled"):
            return  # the runner announces those itself, once the database agrees
        if t == "node.preview":
            if self.want_previews():
                head = {
                    "run_id": ev.run_id,
                    "node_id": ev.node_id,
                    "item": ev.data.get("item"),
                    "time": ev.time,
                }
                try:
                    frames = encode_preview(
                        head, ev.data.get("value"), str(ev.data.get("kind") or "")
                    )
                except Exception:
                    frames = []
                for f in frames:
                    self._to_loop(self.publish_binary, f, ev.run_id)
            return
        msg = ev.to_dict()
        nid = ev.node_id
        if nid is not None:
            with live.lock:
                st = live.node(nid)
                if "node_type" in ev.data:
                    st["type"] = ev.data["node_type"]
                if t == "node.started":
                    st.update(state="running", started=ev.time)
                elif t == "node.progress":
                    st["progress"] = {
                        k: ev.data[k] for k in ("value", "max", "text", "item") if k in ev.data
                    }
                elif t == "node.cached":
                    st.update(state="cached", seconds=0.0)
                elif t == "node.finished":
                    st.update(
                        state="finished",
                        seconds=ev.data.get("seconds"),
                        peak_rss_mb=ev.data.get("peak_rss_mb"),
                    )
                    st.pop("progress", None)
                elif t == "node.failed":
                    st.update(
                        state="failed", error={k: v for k, v in ev.data.items() if k != "traceback"}
                    )
        if t == "node.progress":
            self._progress(msg)
        else:
            self._emit(msg)


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


def _files_in(outputs: Any, prefix: str) -> set[str]:
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


def _publish_outputs(stage: Path, final: Path, run_id: str, keep: set[str] | None) -> None:
    """Move the staging folder to its final name. `keep` (for failed or cancelled runs):
    only files a finished node reported survive; anything else may be half-written."""
    shutil.rmtree(stage / ".tmp", ignore_errors=True)
    for dirpath, _dirs, files in os.walk(stage):
        for name in files:
            p = Path(dirpath) / name
            rel = p.relative_to(stage).as_posix()
            if name.startswith(".") or (keep is not None and rel not in keep):
                p.unlink(missing_ok=True)
    shutil.rmtree(final, ignore_errors=True)
    if any(stage.rglob("*")):
        os.replace(stage, final)
    else:
        shutil.rmtree(stage, ignore_errors=True)
