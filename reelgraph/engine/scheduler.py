"""Runs a plan: demand-driven, cached, concurrent per resource class, cancellable.

1. Demand: from the targets down, a node whose key is in the cache is taken
   from there and its inputs are not needed; only misses expand upstream.
2. Execute the misses in dependency order. Ready nodes go to a thread pool,
   bounded per resource class (cpu, gpu, io); a lone ready node with nothing
   else running runs inline, which keeps a long chain cheap.
3. A node fed list[T] where it takes T runs once per element; each element
   has its own key, so editing one scene re-renders only that scene.
4. A failing node stops only its descendants; everything else finishes and
   stays cached. Values are released as soon as their last consumer ran.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import shutil
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import SimpleQueue
from typing import Any

from .cache import Cache, Result, sizeof
from .context import CancelToken, Context
from .errors import Cancelled, Issue, NodeInputError
from .graph import Plan, PlannedNode, canonical, plan_run
from .media.heap import keep_big_buffers_off_the_heap
from .registry import Registry
from .types import Compat
from .workflow import Workflow


@dataclass
class Event:
    """Something that happened in a run. `type` is e.g. "node.finished"."""

    type: str
    run_id: str
    node_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    time: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "run_id": self.run_id, "time": self.time}
        if self.node_id is not None:
            out["node_id"] = self.node_id
        out.update(self.data)
        return out


Listener = Callable[[Event], None]


@dataclass
class NodeFailure:
    node_id: str
    node_type: str
    message: str
    traceback: str = ""
    input: str | None = None
    item: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def __str__(self) -> str:
        where = f"node {self.node_id!r} ({self.node_type})"
        if self.input:
            where += f", input {self.input!r}"
        if self.item is not None:
            where += f", list item {self.item}"
        return f"{where}: {self.message}"


@dataclass
class RunResult:
    run_id: str
    status: str  # finished | failed | cancelled
    outputs: dict[str, dict[str, Any]]
    executed: list[str]
    cached: list[str]
    failed: dict[str, NodeFailure]
    skipped: list[str]
    timings: dict[str, float]
    warnings: list[Issue]
    wall_s: float
    out_dir: Path
    files: dict[str, list[str]] = field(default_factory=dict)  # node id -> files it wrote

    @property
    def ok(self) -> bool:
        return self.status == "finished"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


_IMAGE_SOCKETS = frozenset({"IMAGE", "list[IMAGE]", "ANY"})


def _tensor_images(nt: Any, kwargs: dict[str, Any]) -> None:
    """8-bit IMAGE values (PixelImage) become float tensors for a node that did not
    declare it reads them (see engine/media/pixels.py)."""
    for spec in nt.inputs:
        if spec.type in _IMAGE_SOCKETS and spec.name in kwargs:
            value = kwargs[spec.name]
            if hasattr(value, "__reelgraph_tensor__") or isinstance(value, list):
                from .media.pixels import as_tensor_image

                kwargs[spec.name] = as_tensor_image(value)


def _content_key(value: Any) -> str | None:
    """A key from a small plain value (scene text, a number), so a list element that did
    not change keeps its key even when its neighbours did. A value class can give its own
    with a `__reelgraph_key__()` method returning a string."""
    own = getattr(value, "__reelgraph_key__", None)
    if callable(own):
        return "k" + hashlib.blake2b(str(own()).encode(), digest_size=16).hexdigest()
    if isinstance(value, (str, int, float, bool, type(None), list, tuple, dict)):
        try:
            data = canonical(value)
        except (TypeError, ValueError):
            return None
        if len(data) <= 1 << 16:
            return "c" + hashlib.blake2b(data, digest_size=16).hexdigest()
    return None


def _outputs_exist(result: Result) -> bool:
    """A side-effect node's cached result is reusable only while the files it reported exist."""
    stack = list(result.values)
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            stack.extend(v)
        elif (
            isinstance(v, os.PathLike) or (isinstance(v, str) and os.path.isabs(v))
        ) and not os.path.exists(v):
            return False
    return True


class _Failed(Exception):
    def __init__(self, failure: NodeFailure):
        self.failure = failure


class Engine:
    """Holds a registry, a cache and worker threads; runs workflows one call at a time
    (calls from several threads are fine: each run has its own state)."""

    def __init__(
        self,
        registry: Registry | None = None,
        cache: Cache | None = None,
        *,
        cpu_workers: int | None = None,
        gpu_workers: int = 1,
        io_workers: int = 4,
        out_dir: Path | str = "out",
        segment_runner: Any = None,
    ):
        # Before any run starts threads: big media buffers from mmap, few malloc arenas
        # (glibc's defaults kept ~230 MB of freed speech buffers in a long render).
        keep_big_buffers_off_the_heap()
        self.registry = registry if registry is not None else Registry.discover()
        self.cache = cache if cache is not None else Cache()
        self.limits = {
            "cpu": max(1, cpu_workers if cpu_workers is not None else (os.cpu_count() or 1)),
            "gpu": max(1, gpu_workers),
            "io": max(1, io_workers),
        }
        self.out_dir = Path(out_dir)
        # Where encoders render their missing segments (`reelgraph run --executor ray`
        # spreads one video over a cluster); None: in the encoding node's own thread.
        self.segment_runner = segment_runner
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.cache.flush()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=sum(self.limits.values()), thread_name_prefix="reelgraph-node"
                )
            return self._pool

    # -- planning -----------------------------------------------------------
    def plan(
        self,
        workflow: Workflow,
        *,
        params: Mapping[str, Any] | None = None,
        targets: Iterable[str] | None = None,
        out_dir: Path | None = None,
        salt: str = "",
    ) -> Plan:
        """Check and plan a run (fingerprints are taken here). To run it as planned, pass
        `salt=run_id` and hand the plan to `run_plan` with that run id."""
        out = Path(out_dir) if out_dir is not None else self.out_dir
        return plan_run(
            workflow,
            self.registry,
            params=params,
            targets=targets,
            salt=salt,
            side_effect_salt=str(out.resolve()),
        )

    # -- running ------------------------------------------------------------
    def run(
        self,
        workflow: Workflow,
        *,
        params: Mapping[str, Any] | None = None,
        targets: Iterable[str] | None = None,
        out_dir: Path | str | None = None,
        listener: Listener | None = None,
        cancel: CancelToken | None = None,
        run_id: str | None = None,
    ) -> RunResult:
        """Plan and run. Raises WorkflowError (every problem) before anything runs."""
        run_id = run_id or new_run_id()
        out = Path(out_dir) if out_dir is not None else self.out_dir
        plan = self.plan(workflow, params=params, targets=targets, out_dir=out, salt=run_id)
        return self.run_plan(plan, run_id=run_id, out_dir=out, listener=listener, cancel=cancel)

    def run_plan(
        self,
        plan: Plan,
        *,
        run_id: str,
        out_dir: Path | str | None = None,
        listener: Listener | None = None,
        cancel: CancelToken | None = None,
    ) -> RunResult:
        """Run a plan made by `plan(..., salt=run_id, out_dir=out_dir)`, without planning again:
        a caller that planned to show warnings or a progress total does not pay twice."""
        out = Path(out_dir) if out_dir is not None else self.out_dir
        return _Run(self, plan, run_id, out, listener, cancel or CancelToken()).execute()


def _warm_ahead(to_run: Iterable[PlannedNode]) -> None:
    """Start the `warm` hooks of the nodes that will run (a voice's libraries and
    model), from their literal inputs, on a thread of their own: a cold run's first
    nodes (splitting the script) run meanwhile, and the node that needs the voice
    waits only for what is left of its loading. A head start only: a hook that
    fails is ignored, and the node reports real problems when it runs."""
    hooks: list[tuple[Callable[..., None], dict[str, Any]]] = []
    seen: set[tuple[str, str]] = set()
    for pn in to_run:
        if pn.type.warm is None:
            continue
        once = (pn.type.id, repr(sorted(pn.literals.items(), key=lambda kv: kv[0])))
        if once not in seen:
            seen.add(once)
            hooks.append((pn.type.warm, dict(pn.literals)))
    if not hooks or os.environ.get(WARM_ENV, "1") == "0":
        return
    # numpy's first import, in two threads at once, can fail in one of them ("partially
    # initialized module"): the hooks' libraries import it, and so do the run's nodes
    with contextlib.suppress(ImportError):
        import numpy  # noqa: F401

    def warm() -> None:
        for hook, literals in hooks:
            try:
                hook(literals)
            except Exception:
                pass

    threading.Thread(target=warm, name="reelgraph-warm", daemon=True).start()


WARM_ENV = "REELGRAPH_WARM"  # "0": no warm-up threads (nodes load what they need)


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


class _Run:
    """The state of one run; lives for the duration of `Engine.run`."""

    def __init__(
        self,
        engine: Engine,
        plan: Plan,
        run_id: str,
        out_dir: Path,
        listener: Listener | None,
        cancel: CancelToken,
    ):
        self.engine = engine
        self.cache = engine.cache
        self.plan = plan
        self.run_id = run_id
        self.out_dir = out_dir
        self.temp_dir = out_dir / ".tmp" / run_id
        self.listener = listener
        self.cancel = cancel
        self.results: dict[str, Result] = {}
        self.executed: list[str] = []
        self.shared: set[str] = set()  # nodes another run computed while this one waited
        self.cached: list[str] = []
        self.failed: dict[str, NodeFailure] = {}
        self.skipped: list[str] = []
        self.timings: dict[str, float] = {}
        self.output_bytes: dict[str, int] = {}
        self.files: dict[str, list[str]] = {}

    def emit(
        self, type_: str, node_id: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        if self.listener is not None:
            try:
                self.listener(Event(type_, self.run_id, node_id, data or {}, time.time()))
            except Exception:
                pass  # a broken listener must not break the run

    # -- phase 1: what must run -----------------------------------------------
    def _demand(self) -> set[str]:
        nodes = self.plan.nodes
        to_run: set[str] = set()
        visited: set[str] = set()
        stack = list(reversed(self.plan.targets))
        while stack:
            nid = stack.pop()
            if nid in visited:
                continue
            visited.add(nid)
            pn = nodes[nid]
            hit = self.cache.get(pn.key)
            if hit is not None and (not pn.type.side_effects or _outputs_exist(hit)):
                self.results[nid] = hit
                self.cached.append(nid)
                if self.listener is not None:
                    self.emit("node.cached", nid, {"node_type": pn.type.id})
            else:
                to_run.add(nid)
                stack.extend(pn.sources)
        return to_run

    # -- phase 2: run them ----------------------------------------------------
    def execute(self) -> RunResult:
        t0 = time.perf_counter()
        self.emit(
            "run.started", None, {"targets": self.plan.targets, "nodes": len(self.plan.nodes)}
        )
        nodes = self.plan.nodes
        to_run = self._demand()
        _warm_ahead(nodes[nid] for nid in nodes if nid in to_run)
        if self.listener is not None:
            queued = [nid for nid in nodes if nid in to_run]  # in the order they may run
            self.emit(
                "run.scheduled",
                None,
                {"to_run": len(to_run), "cached": len(self.cached), "queued": queued},
            )
        waiting: dict[str, int] = {}
        consumers: dict[str, list[str]] = {}
        uses: dict[str, int] = {}
        ready: deque[str] = deque()
        for nid in nodes:  # topological order
            if nid not in to_run:
                continue
            count = 0
            for src in nodes[nid].sources:
                uses[src] = uses.get(src, 0) + 1
                if src in to_run:
                    count += 1
                    consumers.setdefault(src, []).append(nid)
            waiting[nid] = count
            if count == 0:
                ready.append(nid)
        keep = set(self.plan.targets)
        limits = self.engine.limits
        busy = {"cpu": 0, "gpu": 0, "io": 0}
        done: SimpleQueue[tuple[str, Result | None, NodeFailure | None, float]] = SimpleQueue()
        running = 0
        cancelled = False

        def finish(
            nid: str, result: Result | None, failure: NodeFailure | None, seconds: float
        ) -> None:
            pn = nodes[nid]
            self.timings[nid] = seconds
            if result is not None:
                self.results[nid] = result
                # computed by another run while this one waited for it: a cache hit
                (self.cached if nid in self.shared else self.executed).append(nid)
                if self.listener is not None:
                    self.emit(
                        "node.finished",
                        nid,
                        {
                            "node_type": pn.type.id,
                            "seconds": seconds,
                            "peak_rss_mb": _peak_rss_mb(),
                            "output_bytes": self.output_bytes.get(nid, 0),
                            "files": self.files.get(nid, []),
                        },
                    )
                for c in consumers.get(nid, ()):
                    waiting[c] -= 1
                    if waiting[c] == 0:
                        ready.append(c)
            else:
                assert failure is not None
                if failure.message == "__cancelled__":
                    self.skipped.append(nid)
                else:
                    self.failed[nid] = failure
                    self.emit("node.failed", nid, failure.to_dict())
                self._skip_descendants(nid, consumers)
            # Release inputs nobody else needs; the cache keeps what its budget allows.
            for src in pn.sources:
                left = uses[src] - 1
                uses[src] = left
                if left == 0 and src not in keep:
                    self.results.pop(src, None)

        while ready or running:
            if self.cancel.cancelled and not cancelled:
                cancelled = True
                self.skipped.extend(ready)
                ready.clear()
            while ready:
                nid = ready[0]
                cls = nodes[nid].type.resource
                if busy[cls] >= limits[cls]:
                    # Head blocked by its class limit: look for another class further on.
                    other = next(
                        (
                            n
                            for n in ready
                            if busy[nodes[n].type.resource] < limits[nodes[n].type.resource]
                        ),
                        None,
                    )
                    if other is None:
                        break
                    ready.remove(other)
                    nid, cls = other, nodes[other].type.resource
                else:
                    ready.popleft()
                if nid in self.failed or nid in self.skipped:
                    continue
                if running == 0 and not ready:
                    finish(nid, *self._run_node(nid))  # lone node: run inline
                    continue
                busy[cls] += 1
                running += 1
                self.engine._executor().submit(self._pooled, nid, done)
            if running:
                nid, result, failure, seconds = done.get()
                running -= 1
                busy[nodes[nid].type.resource] -= 1
                finish(nid, result, failure, seconds)

        if self.cancel.cancelled:
            status = "cancelled"
        elif self.failed:
            status = "failed"
        else:
            status = "finished"
        outputs = {
            t: {o.name: r.values[i] for i, o in enumerate(nodes[t].type.outputs)}
            for t in self.plan.targets
            if (r := self.results.get(t)) is not None
        }
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        wall = time.perf_counter() - t0
        summary = {
            "status": status,
            "seconds": wall,
            "executed": len(self.executed),
            "cached": len(self.cached),
            "failed": len(self.failed),
        }
        self.emit(f"run.{status}", None, summary)
        return RunResult(
            self.run_id,
            status,
            outputs,
            self.executed,
            self.cached,
            self.failed,
            self.skipped,
            self.timings,
            self.plan.warnings,
            wall,
            self.out_dir,
            {k: v for k, v in self.files.items() if v},
        )

    def _skip_descendants(self, nid: str, consumers: dict[str, list[str]]) -> None:
        stack = list(consumers.get(nid, ()))
        seen: set[str] = set()
        while stack:
            c = stack.pop()
            if c in seen:
                continue
            seen.add(c)
            self.skipped.append(c)
            stack.extend(consumers.get(c, ()))

    def _pooled(self, nid: str, done: SimpleQueue[Any]) -> None:
        try:
            outcome = self._run_node(nid)
        except BaseException as exc:  # e.g. SystemExit from a node: never leave the run waiting
            pn = self.plan.nodes[nid]
            outcome = (
                None,
                NodeFailure(
                    nid, pn.type.id, f"{type(exc).__name__}: {exc}", traceback.format_exc()
                ),
                0.0,
            )
        done.put((nid, *outcome))

    def _run_node(self, nid: str) -> tuple[Result | None, NodeFailure | None, float]:
        pn = self.plan.nodes[nid]
        if self.cancel.cancelled:
            return None, NodeFailure(nid, pn.type.id, "__cancelled__"), 0.0
        if self.listener is not None:
            self.emit("node.started", nid, {"node_type": pn.type.id})
        t = time.perf_counter()
        try:
            result = self._compute(pn)
        except _Failed as exc:
            return None, exc.failure, time.perf_counter() - t
        except Cancelled:
            return None, NodeFailure(nid, pn.type.id, "__cancelled__"), time.perf_counter() - t
        return result, None, time.perf_counter() - t

    # -- calling the node function ---------------------------------------------
    def _inputs(self, pn: PlannedNode) -> dict[str, Any]:
        kwargs = dict(pn.literals)
        for ln in pn.links:
            value = self.results[ln.source].values[ln.output_index]
            if ln.compat is Compat.WRAP:
                value = [value]
            elif ln.compat is Compat.WIDEN and isinstance(value, int):
                value = float(value)
            spec = pn.type.input_map[ln.input]
            if spec.widget is not None and ln.compat is not Compat.MAP:
                problem = spec.widget.check(value)
                if problem:
                    raise _Failed(NodeFailure(pn.id, pn.type.id, problem, input=ln.input))
            kwargs[ln.input] = value
        return kwargs

    def _context(self, pn: PlannedNode, key: str, item: int | None) -> Context:
        def emit(type_: str, data: dict[str, Any]) -> None:
            self.emit(type_, pn.id, data)

        return Context(
            run_id=self.run_id,
            node_id=pn.id,
            node_type=pn.type.id,
            seed=int(key[:15], 16),
            out_dir=self.out_dir,
            temp_dir=self.temp_dir,
            cancel=self.cancel,
            emit=emit,
            item=item,
            workflow=self.plan.workflow.doc,
            params=self.plan.workflow.param_values if pn.type.uses_params else None,
            cache=self.cache,
            segment_runner=self.engine.segment_runner,
        )

    def _call(
        self, pn: PlannedNode, kwargs: dict[str, Any], key: str, item: int | None
    ) -> tuple[Any, ...]:
        nt = pn.type
        if nt.wants_ctx:
            ctx = kwargs["ctx"] = self._context(pn, key, item)
            # Shared per node (all items of a mapped node): the files it wrote, kept even
            # when it fails so a caller can keep or clean them.
            ctx.files = self.files.setdefault(pn.id, [])
        if not nt.pixel_images:
            _tensor_images(nt, kwargs)
        try:
            value = nt.fn(**kwargs)
        except (Cancelled, _Failed):
            raise
        except NodeInputError as exc:
            raise _Failed(
                NodeFailure(pn.id, nt.id, str(exc), traceback.format_exc(), exc.input, item)
            ) from None
        except Exception as exc:
            raise _Failed(
                NodeFailure(
                    pn.id, nt.id, f"{type(exc).__name__}: {exc}", traceback.format_exc(), None, item
                )
            ) from None
        n = len(nt.outputs)
        if n == 0:
            return ()
        if n == 1:
            return (value,)
        if isinstance(value, dict):
            try:
                return tuple(value[o.name] for o in nt.outputs)
            except KeyError as exc:
                raise _Failed(
                    NodeFailure(pn.id, nt.id, f"node returned no output {exc}", item=item)
                ) from None
        if isinstance(value, (tuple, list)) and len(value) == n:
            return tuple(value)
        raise _Failed(
            NodeFailure(
                pn.id, nt.id, f"node must return {n} outputs, got {type(value).__name__}", item=item
            )
        )

    def _compute(self, pn: PlannedNode) -> Result:
        if pn.type.side_effects:  # keys salted per run and output folder: never shared
            return self._compute_fresh(pn)
        with self._single_flight(pn.key) as hit:
            if hit is not None:
                self.shared.add(pn.id)
                return hit
            return self._compute_fresh(pn)

    def _single_flight(self, key: str) -> Any:
        computing = getattr(self.cache, "computing", None)
        if computing is None:  # a cache without it: compute, as before
            return contextlib.nullcontext(None)
        return computing(key, lambda: self.cancel.cancelled)

    def _compute_fresh(self, pn: PlannedNode) -> Result:
        t = time.perf_counter()
        kwargs = self._inputs(pn)
        if not pn.mapped:
            result = Result(self._call(pn, kwargs, pn.key, None))
        else:
            result = self._compute_mapped(pn, kwargs)
        nbytes = sizeof(result)
        self.output_bytes[pn.id] = nbytes
        self.cache.put(
            pn.key,
            result,
            seconds=time.perf_counter() - t,
            nbytes=nbytes,
            persist=pn.type.side_effects,
        )
        return result

    def _item_threads(self, pn: PlannedNode, missing: int) -> int:
        """Threads for the missing elements of a mapped node: the run's CPU workers
        when the node allows it (`parallel_items`), else one."""
        if not pn.type.parallel_items or pn.type.resource != "cpu" or missing < 2:
            return 1
        return min(missing, self.engine.limits["cpu"])

    def _compute_mapped(self, pn: PlannedNode, kwargs: dict[str, Any]) -> Result:
        """Run once per element of the mapped inputs (zipped), reusing cached elements."""
        lists = {name: kwargs[name] for name in pn.mapped}
        lengths = {name: len(v) for name, v in lists.items()}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{k}={v}" for k, v in lengths.items())
            raise _Failed(
                NodeFailure(
                    pn.id,
                    pn.type.id,
                    f"mapped list inputs differ in length ({shown})",
                    input=pn.mapped[0],
                )
            )
        count = next(iter(lengths.values()))
        links = {ln.input: ln for ln in pn.links}
        # The element key: this node's own key material plus each mapped element's identity.
        identities: dict[str, list[str]] = {}
        for name in pn.mapped:
            ln = links[name]
            src = self.results[ln.source]
            keys = src.item_keys[ln.output_index] if src.item_keys else None
            if keys is None:
                src_key = self.plan.nodes[ln.source].key
                keys = tuple(
                    _content_key(v) or f"{src_key}:{ln.output_index}[{i}]"
                    for i, v in enumerate(lists[name])
                )
            identities[name] = list(keys)
        base = pn.item_base
        item_keys = [
            hashlib.blake2b(
                (base + "".join(f"\0{n}={identities[n][i]}" for n in pn.mapped)).encode(),
                digest_size=16,
            ).hexdigest()
            for i in range(count)
        ]
        per_item: list[tuple[Any, ...] | None] = [None] * count
        for i, ek in enumerate(item_keys):
            hit = self.cache.get(ek)
            if hit is not None:
                per_item[i] = hit.values
        missing = [i for i in range(count) if per_item[i] is None]
        done = count - len(missing)

        def compute(i: int) -> tuple[Any, ...]:
            if self.cancel.cancelled:
                raise Cancelled(self.run_id)
            ek = item_keys[i]
            with self._single_flight(ek) as hit:
                if hit is not None:  # another run computed this element meanwhile
                    return hit.values
                t = time.perf_counter()
                args = dict(kwargs)
                for name in pn.mapped:
                    args[name] = lists[name][i]
                values = self._call(pn, args, ek, i)
                self.cache.put(ek, Result(values), seconds=time.perf_counter() - t)
                return values

        threads = self._item_threads(pn, len(missing))
        pool = ThreadPoolExecutor(threads, "reelgraph-item") if threads > 1 else None
        with pool or contextlib.nullcontext():
            futures = {i: pool.submit(compute, i) for i in missing} if pool else {}
            try:
                for i in missing:  # in order: the first failing element is reported
                    per_item[i] = futures[i].result() if pool else compute(i)
                    done += 1
                    if self.listener is not None:
                        self.emit("node.progress", pn.id, {"value": done, "max": count, "item": i})
            except BaseException:
                for f in futures.values():
                    f.cancel()
                raise
        n_out = len(pn.type.outputs)
        values = tuple([item[j] for item in per_item] for j in range(n_out))
        keys = tuple(tuple(f"{k}/{j}" for k in item_keys) for j in range(n_out))
        return Result(values, keys)


__all__ = ["Engine", "Event", "Listener", "NodeFailure", "RunResult"]
