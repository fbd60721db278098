"""The worker process: where runs execute, so a node that crashes, hangs or leaks costs
only its run and this process, never the server.

One worker is long-lived: it discovers the node packs once and keeps its engine
(memory cache, loaded models) between runs. It talks to its parent over one
duplex pipe (messages are tuples):

    parent -> worker   ("run", job) | ("cancel", run_id) | ("stop",)
    worker -> parent   ("ready", info) | ("event", event dict) | ("preview", frame, run_id)
                       | ("done", result)

A reader thread takes commands while the main thread runs a job, so a cancel
reaches the run's CancelToken at once. When the parent goes away the pipe ends
and the worker exits: no orphan keeps running nodes.
"""

from __future__ import annotations

import os
import resource
import shutil
import threading
import time
import traceback
from pathlib import Path
from queue import SimpleQueue
from typing import Any


def cuda_driver_present() -> bool:
    # CUDA maps far more address space than it uses: RLIMIT_AS would break it.
    return os.path.isdir("/proc/driver/nvidia")


def _set_soft_limit(which: int, value: int) -> None:
    try:
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY and value > hard:
            value = hard
        resource.setrlimit(which, (value, hard))
    except (ValueError, OSError):
        pass


def apply_job_limits(limits: dict[str, Any]) -> None:
    """Address space and largest file for this job (0: unlimited)."""
    mem = int(limits.get("memory_mb") or 0)
    if not cuda_driver_present():
        _set_soft_limit(resource.RLIMIT_AS, mem << 20 if mem else resource.RLIM_INFINITY)
    out = int(limits.get("output_mb") or 0)
    _set_soft_limit(resource.RLIMIT_FSIZE, out << 20 if out else resource.RLIM_INFINITY)


class _Worker:
    def __init__(self, conn: Any, settings: dict[str, Any], previews_flag: Any):
        self.conn = conn
        self.settings = settings
        self.previews_flag = previews_flag
        self.send_lock = threading.Lock()
        self.jobs: SimpleQueue[dict[str, Any] | None] = SimpleQueue()
        self.current: str | None = None
        self.token: Any = None
        self.cancelled: set[str] = set()
        self.state_lock = threading.Lock()
        self.engine: Any = None

    def send(self, message: tuple[Any, ...]) -> None:
        with self.send_lock:
            self.conn.send(message)

    def read_commands(self) -> None:
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # the parent is gone: nobody would see what we do
            kind = msg[0]
            if kind == "run":
                self.jobs.put(msg[1])
            elif kind == "cancel":
                with self.state_lock:
                    self.cancelled.add(msg[1])
                    if self.current == msg[1] and self.token is not None:
                        self.token.cancel()
            elif kind == "stop":
                self.jobs.put(None)
                return

    def make_engine(self) -> Any:
        from reelgraph.engine import Cache, DiskCache, Engine, MemoryCache, Registry

        s = self.settings
        custom = s.get("custom_nodes")
        registry = Registry.discover([Path(p) for p in custom] if custom is not None else None)
        cache_dir = s.get("cache_dir")
        cache = Cache(
            MemoryCache(s.get("memory_cache_bytes")),
            DiskCache(Path(cache_dir)) if cache_dir else None,
        )
        return Engine(registry, cache, out_dir=Path(s.get("out_dir") or "out"))

    def main(self) -> None:
        self.engine = self.make_engine()
        threading.Thread(target=self.read_commands, name="reelgraph-commands", daemon=True).start()
        self.send(("ready", {"pid": os.getpid(), "nodes": len(self.engine.registry)}))
        while True:
            job = self.jobs.get()
            if job is None:
                break
            try:
                result = self.run_job(job)
            except Exception:  # anything a run does: reported, and the worker goes on
                result = {
                    "status": "failed",
                    "error": {"message": "internal error", "traceback": traceback.format_exc()},
                    "summary": {"status": "failed"},
                    "outputs": {},
                    "warnings": [],
                    "keep": [],
                }
            result["cache"] = _safe_stats(self.engine)
            self.send(("done", result))
        self.engine.close()

    def run_job(self, job: dict[str, Any]) -> dict[str, Any]:
        from reelgraph.engine import CancelToken, WorkflowError
        from reelgraph.engine.workflow import parse_workflow

        run_id = job["run_id"]
        token = CancelToken()
        with self.state_lock:
            self.current, self.token = run_id, token
            if run_id in self.cancelled:
                token.cancel()
        stage = Path(job["stage"])
        if job.get("fresh_stage", True):
            shutil.rmtree(stage, ignore_errors=True)  # a previous attempt killed mid-way
        stage.mkdir(parents=True, exist_ok=True)
        apply_job_limits(job.get("limits") or {})
        engine = self.engine
        t0 = time.perf_counter()
        try:
            wf = parse_workflow(job["workflow"])
            params = job.get("params") or {}
            targets = job.get("targets")
            if job.get("confine"):
                from .confine import outside_roots

                plan = engine.plan(wf, params=params, targets=targets, out_dir=stage)
                bad = outside_roots(plan, [Path(p) for p in job["confine"]])
                if bad:
                    raise WorkflowError(bad)
            result = engine.run(
                wf,
                params=params,
                targets=targets,
                out_dir=stage,
                listener=lambda ev: self.listen(ev),
                cancel=token,
                run_id=run_id,
            )
            engine.cache.flush()
        except WorkflowError as exc:
            return {
                "status": "failed",
                "error": {"message": str(exc), "issues": [i.to_dict() for i in exc.issues]},
                "summary": {"status": "failed", "seconds": time.perf_counter() - t0},
                "outputs": {},
                "warnings": [],
                "keep": [],
            }
        finally:
            apply_job_limits({})  # the next job sets its own; the engine's own work is unlimited
            with self.state_lock:
                self.current, self.token = None, None
                self.cancelled.discard(run_id)
        if job.get("mode") == "cli":
            return {"status": result.status, "run_result": portable_result(result)}
        return describe_result(result, run_id, stage, job)

    def listen(self, ev: Any) -> None:
        """Engine listener (node threads): events go to the parent, previews as encoded frames."""
        t = ev.type
        if t in ("run.started", "run.finished", "run.failed", "run.cancelled"):
            return  # the parent announces those once the database agrees
        if t == "node.preview":
            if not self.previews_flag.value:
                return
            from .previews import encode_preview

            head = {
                "run_id": ev.run_id,
                "node_id": ev.node_id,
                "item": ev.data.get("item"),
                "time": ev.time,
            }
            try:
                frames = encode_preview(head, ev.data.get("value"), str(ev.data.get("kind") or ""))
            except Exception:
                frames = []
            for f in frames:
                self.send(("preview", f, ev.run_id))
            return
        msg = ev.to_dict()
        try:
            self.send(("event", msg))
        except (TypeError, AttributeError, ValueError):  # an unpicklable value in the data
            self.send(("event", {k: _plain(v) for k, v in msg.items()}))


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return repr(value)[:1000]


def _safe_stats(engine: Any) -> Any:
    try:
        return engine.cache.stats()
    except Exception:
        return None


def describe_result(result: Any, run_id: str, stage: Path, job: dict[str, Any]) -> dict[str, Any]:
    """The run's outcome as JSON-able data for the run store (outputs as links under /api/files)."""
    from .previews import describe
    from .runner import files_in

    outputs_dir = Path(job["outputs_dir"])
    roots = {
        os.path.realpath(stage): f"outputs/{run_id}",
        os.path.realpath(outputs_dir): "outputs",
        os.path.realpath(job["uploads_dir"]): "uploads",
    }
    outputs = {
        nid: {k: describe(v, roots) for k, v in outs.items()}
        for nid, outs in result.outputs.items()
    }
    error = None
    if result.failed:
        first = next(iter(result.failed.values()))
        error = {
            "message": str(first),
            "node_id": first.node_id,
            "failures": [f.to_dict() for f in result.failed.values()],
        }
    summary = {
        "status": result.status,
        "seconds": result.wall_s,
        "executed": len(result.executed),
        "cached": len(result.cached),
        "failed": len(result.failed),
        "skipped": len(result.skipped),
    }
    keep = sorted(files_in(outputs, f"outputs/{run_id}/")) if result.status != "finished" else None
    return {
        "status": result.status,
        "error": error,
        "outputs": outputs,
        "warnings": [w.to_dict() for w in result.warnings],
        "summary": summary,
        "keep": keep,
    }


def portable_result(result: Any) -> Any:
    """The RunResult with output values the CLI prints (paths, numbers, text) and no tensors."""
    import dataclasses

    def keep(v: Any) -> Any:
        if v is None or isinstance(v, (str, int, float, bool)):
            return v
        if isinstance(v, os.PathLike):
            return os.fspath(v)
        if isinstance(v, (list, tuple)):
            return [keep(x) for x in v]
        path = getattr(v, "path", None)
        if isinstance(path, (str, os.PathLike)):
            return os.fspath(path)
        return None

    outputs = {nid: {k: keep(v) for k, v in outs.items()} for nid, outs in result.outputs.items()}
    return dataclasses.replace(result, outputs=outputs)


def worker_main(conn: Any, settings: dict[str, Any], previews_flag: Any) -> None:
    """Entry point of a worker process (multiprocessing target)."""
    hard = int(settings.get("memory_hard_mb") or 0)
    if hard and not cuda_driver_present():
        try:
            resource.setrlimit(resource.RLIMIT_AS, (hard << 20, hard << 20))
        except (ValueError, OSError):
            pass
    _Worker(conn, settings, previews_flag).main()
