"""One batch row as a unit of work: `RowJob` in, `RowOutcome` out, both plain data.

`execute_row` is what every executor calls, in a thread of the driver, in a local
worker process or in a Ray worker. It runs the workflow with the row's params into
the row's staging folder and counts what it did: nodes executed against nodes a
cold run would execute, and frames encoded against the video's frames.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..cache import DISK_MIN_SECONDS, Cache, DiskCache, MemoryCache, Result
from ..context import CancelToken
from ..errors import WorkflowError
from ..registry import Registry
from ..scheduler import Engine, Event
from ..workflow import Workflow

ENCODE_TYPES = ("video.Encode",)


@dataclass
class RowJob:
    number: int
    stem: str
    params: dict[str, Any]
    workflow: dict[str, Any]
    workflow_file: str | None
    stage_dir: str  # the run's output folder; the driver renames what lands here
    cache_dir: str | None = None  # shared disk cache (None: memory only)
    cpu_workers: int = 1
    gpu: bool = False  # the plan has a gpu-class node (Ray: num_gpus=1)
    ship_files: bool = False  # return the files' bytes (a worker on another machine)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RowOutcome:
    number: int
    status: str  # ok | failed | cancelled
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)  # names inside stage_dir
    error: dict[str, Any] | None = None
    executed: int = 0  # plan nodes that ran (a mapped node counts once)
    cached: int = 0
    node_executions: int = 0  # node calls: a mapped node counts each element it computed
    node_executions_naive: int = 0  # node calls a cold, independent run makes
    encoded_frames: int = 0
    frames: int = 0  # frames of the encoded videos (what a full encode writes)
    worker: str = ""
    payload: dict[str, bytes] | None = None  # name -> bytes when ship_files


class CountingCache:
    """A view of a shared cache for one run: same entries, but counts this run's
    computations. Every computed node and every computed list element is one `put`."""

    def __init__(self, inner: Cache, plan_keys: set[str]):
        self.inner = inner
        # Tiers as they are: a node keeping sub-results of its own (encoded segments)
        # reaches them directly, and that is no node execution.
        self.memory = inner.memory
        self.disk = inner.disk
        self.flights = inner.flights  # encoders claim their segments through it
        self.plan_keys = plan_keys
        self.puts: list[str] = []
        self.seen: dict[str, Result] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Result | None:
        hit = self.inner.get(key)
        if hit is not None and key in self.plan_keys:
            self.seen[key] = hit
        return hit

    def put(self, key: str, result: Result, **kw: Any) -> None:
        with self._lock:
            self.puts.append(key)
            if key in self.plan_keys:
                self.seen[key] = result
        self.inner.put(key, result, **kw)

    def computing(self, key: str, cancelled: Callable[[], bool] = lambda: False) -> Any:
        return self.inner.flights.claim(key, self.get, cancelled)

    def flush(self) -> None:
        self.inner.flush()

    def stats(self) -> dict[str, Any]:
        return self.inner.stats()


# A worker process (local pool or Ray) keeps one registry and cache for all its rows.
_WORKER: dict[str, Any] = {}
_WORKER_LOCK = threading.Lock()


def worker_state(
    cache_dir: str | None, *, everything_to_disk: bool = True
) -> tuple[Registry, Cache]:
    """The process's registry and cache (the first call for a cache folder makes them).
    `everything_to_disk`: every result goes to the disk tier, for workers elsewhere
    that read what this one computed (Ray tasks, worker processes); without it only
    results that took 50 ms or more do, as in the local executor (a process whose
    rows share its memory cache: a Ray RowWorker, the driver)."""
    with _WORKER_LOCK:
        if _WORKER.get("cache_dir") != cache_dir or "registry" not in _WORKER:
            disk = DiskCache(Path(cache_dir)) if cache_dir else None
            _WORKER.update(
                cache_dir=cache_dir,
                registry=_WORKER.get("registry") or Registry.discover(),
                cache=Cache(
                    MemoryCache(),
                    disk,
                    disk_min_seconds=0.0 if everything_to_disk else DISK_MIN_SECONDS,
                ),
            )
        return _WORKER["registry"], _WORKER["cache"]


# Libraries the built-in packs import on first use; a fresh worker process pays
# seconds for them in its first row unless it is warmed while the pilot row runs.
# Not torch: the video packs no longer need it, and importing it costs each worker
# seconds of CPU while the pilot row runs; a workflow with tensor nodes imports it
# in its first row.
WARM_MODULES = (
    "numpy",
    "av",
    "cv2",
    "PIL.Image",
    "PIL.ImageDraw",
    "PIL.ImageFont",
    "onnxruntime",
    "piper",
)


def warm_worker(cache_dir: str | None, workflow: dict[str, Any] | None = None) -> str:
    """Get a worker process ready for rows: node registry, cache, heavy imports, and
    the `warm` hook of each node in `workflow` (a voice loaded). Returns host:pid."""
    import importlib

    registry, cache = worker_state(cache_dir)
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # an optional extra that is not installed: rows that need it will say so
    if workflow:
        # Planning hashes the code of the workflow's node types (a node's key covers
        # its code): ~0.3 s of parsing per process, done here instead of in the
        # worker's first row.
        try:
            with Engine(registry, cache) as engine:
                engine.plan(Workflow(workflow, None))
        except Exception:
            pass  # a workflow that does not plan fails in its rows, with the reason
    warm_nodes(registry, workflow)
    return f"{os.uname().nodename}:{os.getpid()}"


def warm_in_background(
    registry: Callable[[], Registry], workflow: dict[str, Any]
) -> threading.Thread:
    """`warm_nodes` on a thread of its own (the voice loads while the batch checks its
    rows); join it before the process exits: a voice still loading then aborts the
    interpreter (onnxruntime's threads)."""
    # numpy first, here: its first import in two threads at once can fail in one
    import numpy  # noqa: F401

    thread = threading.Thread(
        target=lambda: warm_nodes(registry(), workflow), name="reelgraph-prewarm", daemon=True
    )
    thread.start()
    return thread


def warm_nodes(registry: Registry, workflow: dict[str, Any] | None) -> None:
    """The `warm` hook of each node in `workflow`, from its literal inputs (a voice
    loaded): a head start only, so a hook that fails is passed over."""
    nodes = (workflow or {}).get("nodes")
    for spec in nodes.values() if isinstance(nodes, dict) else ():
        nt = registry.get(spec.get("type")) if isinstance(spec, dict) else None
        if nt is None or nt.warm is None:
            continue
        inputs = spec.get("inputs") if isinstance(spec.get("inputs"), dict) else {}
        literals = {k: v for k, v in inputs.items() if not isinstance(v, dict)}
        try:
            nt.warm(literals)
        except Exception:
            pass  # warming is a head start only: the row reports real problems


class _Counter:
    """Listener: encoded frames of encode nodes, plus forwarding to the driver."""

    def __init__(self, forward: Callable[[Event], None] | None):
        self.forward = forward
        self.encode_nodes: set[str] = set()
        self.progress: dict[str, tuple[float, float]] = {}
        self.reported: dict[str, dict[str, Any]] = {}

    def __call__(self, ev: Event) -> None:
        nid = ev.node_id
        if nid is not None and ev.data.get("node_type") in ENCODE_TYPES:
            self.encode_nodes.add(nid)
        if nid in self.encode_nodes:
            if ev.type == "node.progress" and "item" not in ev.data:
                self.progress[nid] = (float(ev.data.get("value", 0)), float(ev.data.get("max", 0)))
            # An encoder that re-uses segments says what it really encoded.
            if "encoded_frames" in ev.data:
                self.reported[nid] = ev.data
        if self.forward is not None:
            self.forward(ev)

    def frames(self, results: dict[str, Result] | None = None) -> tuple[int, int]:
        """(frames encoded, frames of the videos). An encoder that re-uses segments
        returns (path, encoded_frames, reused_frames); otherwise its progress counts."""
        encoded = total = 0
        for nid in self.encode_nodes:
            r = (results or {}).get(nid)
            if (
                r is not None
                and len(r.values) >= 3
                and all(isinstance(v, int) for v in r.values[1:3])
            ):
                encoded += r.values[1]
                total += r.values[1] + r.values[2]
                continue
            done, n = self.progress.get(nid, (0.0, 0.0))
            rep = self.reported.get(nid)
            if rep is not None:
                encoded += int(rep["encoded_frames"])
                total += int(rep.get("frames", rep.get("total_frames", n)))
            else:
                encoded += int(done)
                total += int(n)
        return encoded, total


def _naive_count(plan: Any, cache: CountingCache) -> int:
    """Node calls a cold run makes: one per node, one per element for mapped nodes."""
    total = 0
    for pn in plan.nodes.values():
        if not pn.mapped:
            total += 1
            continue
        result = cache.seen.get(pn.key)
        values = result.values[0] if result is not None and result.values else None
        total += len(values) if isinstance(values, (list, tuple)) else 1
    return total


def execute_row(
    job: RowJob,
    *,
    registry: Registry | None = None,
    cache: Cache | None = None,
    cancel: CancelToken | None = None,
    listener: Callable[[Event], None] | None = None,
) -> RowOutcome:
    """Run one row. Never raises for a failing workflow: the outcome says what failed."""
    t0 = time.perf_counter()
    if registry is None or cache is None:
        registry, cache = worker_state(job.cache_dir)
    stage = Path(job.stage_dir)
    shutil.rmtree(stage, ignore_errors=True)  # a previous, interrupted attempt
    stage.mkdir(parents=True, exist_ok=True)
    wf = Workflow(job.workflow, job.workflow_file)
    outcome = RowOutcome(job.number, "failed", worker=f"{os.uname().nodename}:{os.getpid()}")
    counter = _Counter(listener)
    try:
        probe = Engine(registry, cache, cpu_workers=job.cpu_workers, out_dir=stage)
        run_id = f"row{job.number}-{uuid.uuid4().hex[:8]}"
        plan = probe.plan(wf, params=job.params, out_dir=stage, salt=run_id)
        view = CountingCache(cache, {pn.key for pn in plan.nodes.values()})
        engine = Engine(registry, view, cpu_workers=job.cpu_workers, out_dir=stage)  # type: ignore[arg-type]
        try:
            # The plan made above, run as it is: planning again costs ~20 ms a row.
            result = engine.run_plan(
                plan, run_id=run_id, out_dir=stage, listener=counter, cancel=cancel
            )
        finally:
            engine.close()  # also flushes the disk cache, so the next row finds it
    except WorkflowError as exc:
        first = exc.issues[0] if exc.issues else None
        outcome.error = {
            "message": "; ".join(str(i) for i in exc.issues if i.severity == "error")[:2000],
            **({"node": first.node} if first and first.node else {}),
            **({"input": first.input} if first and first.input else {}),
        }
        outcome.seconds = time.perf_counter() - t0
        return outcome
    outcome.status = {"finished": "ok"}.get(result.status, result.status)
    if result.failed:
        f = next(iter(result.failed.values()))
        outcome.error = {
            "node": f.node_id,
            "node_type": f.node_type,
            "message": f.message,
            **({"input": f.input} if f.input else {}),
            **({"item": f.item} if f.item is not None else {}),
        }
    mapped_keys = {pn.key for pn in plan.nodes.values() if pn.mapped}
    outcome.executed = len(result.executed)
    outcome.cached = len(result.cached)
    # A mapped node's own put holds the list it assembled: its elements were the calls.
    outcome.node_executions = sum(1 for k in view.puts if k not in mapped_keys)
    outcome.node_executions_naive = _naive_count(plan, view)
    encode_results = {
        pn.id: res
        for pn in plan.nodes.values()
        if pn.type.id in ENCODE_TYPES and (res := view.seen.get(pn.key)) is not None
    }
    counter.encode_nodes.update(encode_results)
    outcome.encoded_frames, outcome.frames = counter.frames(encode_results)
    outcome.files = sorted(
        str(p.relative_to(stage))
        for p in stage.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(stage).parts)
    )
    shutil.rmtree(stage / ".tmp", ignore_errors=True)
    if job.ship_files:
        outcome.payload = {name: (stage / name).read_bytes() for name in outcome.files}
    outcome.seconds = time.perf_counter() - t0
    return outcome


def execute_row_elsewhere(job_dict: dict[str, Any]) -> RowOutcome:
    """Entry point for a worker process: renders into a private temp folder when the
    driver's staging folder is not reachable, and ships the files back."""
    job = RowJob(**job_dict)
    if job.ship_files:
        with tempfile.TemporaryDirectory(prefix="reelgraph-row-") as tmp:
            job.stage_dir = str(Path(tmp) / job.stem)
            return execute_row(job)
    return execute_row(job)
