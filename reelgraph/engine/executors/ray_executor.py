"""Rows as Ray tasks (`reelgraph batch --executor ray`, the `reelgraph[ray]` extra).

`ray.init()` starts a local Ray when no address is given; `--ray-address` joins
a cluster. A row asks for what its plan needs: `num_gpus=1` when a node of the
gpu class is in it, else `num_cpus` of its job. Workers share the disk cache
through its folder (a shared path on a cluster) and send each row's files back,
so outputs land in --out on the driver. A task whose worker dies is retried
(`max_retries`), as is one that raised (`retry_exceptions`), so a killed worker
loses no row.

`RaySegmentRunner` is the other unit of parallelism: the encoder's closed-GOP
segments of one long video, rendered and encoded by several workers and joined
by the encoder (`encode_video(..., run_segments=RaySegmentRunner())`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..batch.job import execute_row, warm_in_background, worker_state
from ..context import CancelToken
from ..media.encoder import process_cores
from . import Executor, ExecutorError
from .ray_lean import lean_local_ray

MAX_RETRIES = 3
LOCAL = "local"  # --ray-address local: start a private local Ray even if one runs here


def _encode_segment(video: Any, start: int, stop: int, settings: Any) -> Any:
    from ..media.encoder import encode_segment

    return encode_segment(video, start, stop, settings)


class _LeftOut(logging.Filter):
    """Drops the records of a logger whose message contains `text` (what Ray says
    that only alarms or clutters; each use says why)."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


def require_ray(what: str) -> None:
    """ExecutorError when Ray is not installed (found without importing it)."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise ExecutorError(f'{what} needs Ray: pip install "reelgraph[ray]"')


def ray_running_here() -> bool:
    """This process is connected to a Ray already (without importing Ray)."""
    ray = sys.modules.get("ray")
    return ray is not None and bool(ray.is_initialized())


def _answers(address: str, timeout: float = 2.0) -> bool:
    """Something listens at host:port."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def _machine_ray() -> str:
    """With no --ray-address, ray.init() joins the Ray that `ray start --head` runs on
    this machine (RAY_ADDRESS, else the address file it writes; found that way, it
    also reads that Ray's auth token), else starts a local one. "running": there is
    one to join; "none": there is none; "gone": the file names a Ray that was killed
    (not stopped with `ray stop`), on which ray.init() would wait for minutes."""
    if os.environ.get("RAY_ADDRESS"):
        return "running"  # the user's own choice: Ray reads it (ray://, auto, host:port)
    try:
        from ray._private.utils import read_ray_address

        address = read_ray_address()
    except Exception:  # a Ray without that helper: let ray.init() look for itself
        return "none"
    if not address:
        return "none"
    return "running" if _answers(address) else "gone"


class RayStart:
    """Ray, started in the background: a local Ray takes seconds (its control
    processes and worker processes each import Ray), which a batch or a render spends
    on its own work instead of waiting. `wait()` blocks until Ray is up and raises
    ExecutorError when it could not start; `stop()` stops a Ray started here.

    A Ray already running in this process is used as it is. The starting thread
    lives until `stop()`: Ray's processes are killed when the thread that spawned
    them exits (PR_SET_PDEATHSIG is per thread on Linux)."""

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        system_config: dict[str, Any] | None = None,
    ):
        # Ray is imported in the starting thread too (~0.4 s of CPU the batch's first
        # row need not wait for); `ray` is set once it is, at the latest when up.
        self.ray: Any = sys.modules.get("ray")
        self.address = address
        # "local" (Ray's own word): a new Ray of this process's, never one already
        # running on the machine, which may be someone else's, with their code.
        self.starts_local = not address or address == LOCAL
        self.connected_here = False
        self.started_here = False  # this process started that Ray (not joined one)
        self._system_config = system_config
        self.error: str | None = None
        self._up = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        if ray_running_here():
            self._up.set()
            return
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address:
            kwargs["address"] = address
        if self.starts_local and num_cpus:
            kwargs["num_cpus"] = num_cpus
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing leaves the machine
        self._thread = threading.Thread(
            target=self._start, args=(kwargs,), name="reelgraph-ray-start", daemon=True
        )
        self._thread.start()

    def _start(self, kwargs: dict[str, Any]) -> None:
        # Ray warns when `ray.init` runs off the main thread that it set no SIGTERM
        # handler; our commands install their own, so the warning only alarms people.
        quiet = _LeftOut("SIGTERM handler is not set")
        log = logging.getLogger("ray._private.worker")  # where that record is made
        log.addFilter(quiet)
        try:
            import ray

            self.ray = ray
            joins = not self.starts_local
            if self.address is None:
                found = _machine_ray()
                if found == "running":
                    joins = True
                    kwargs.pop("num_cpus", None)  # joined: a cluster's size is its own
                elif found == "gone":
                    kwargs["address"] = LOCAL  # start one of our own
            self.started_here = not joins
            if self.started_here and self._system_config:
                # Only for a Ray of our own: a cluster someone else runs keeps its settings.
                kwargs["_system_config"] = dict(self._system_config)
            notice = logging.getLogger("ray._private.authentication.authentication_token_setup")
            # A Ray that `ray.init()` starts for the batch itself (only there; what Ray
            # says of a Ray it joins is left as it is): its token authentication is on
            # by default (Ray 2.60), which is what it should have (only processes given
            # the token reach it), and Ray says so on every start; and its line that it
            # started one came in Ray's own format between the progress lines, past -q.
            quiet_notice = _LeftOut("Token authentication is enabled")
            quiet_start = _LeftOut("Started a local Ray instance")
            if self.started_here:
                notice.addFilter(quiet_notice)
                log.addFilter(quiet_start)
            try:
                with lean_local_ray() if self.started_here else contextlib.nullcontext():
                    self.ray.init(**kwargs)
            finally:
                notice.removeFilter(quiet_notice)
                log.removeFilter(quiet_start)
            # ray.shutdown() in stop(): stops a Ray started here, or only disconnects
            # this driver from one it joined.
            self.connected_here = True
        except Exception as exc:
            where = "a local Ray" if self.starts_local else f"the Ray cluster at {self.address}"
            self.error = f"cannot start {where}: {exc}"
        finally:
            log.removeFilter(quiet)
            self._up.set()
        self._stopping.wait()

    @property
    def up(self) -> bool:
        """Ray has started (or failed to): wait() no longer blocks."""
        return self._up.is_set()

    def wait(self) -> None:
        self._up.wait()
        if self.error is not None:
            raise ExecutorError(self.error)

    def cpus(self) -> int:
        self.wait()
        return int(self.ray.cluster_resources().get("CPU", 1))

    def stop(self) -> None:
        self._up.wait()
        try:
            if self.connected_here and self.ray.is_initialized():
                self.ray.shutdown()
        finally:
            self.connected_here = False
            self._stopping.set()
            if self._thread is not None:
                self._thread.join()


class RaySegmentRunner:
    """Encode frame ranges of one VIDEO as Ray tasks, one per segment
    (`reelgraph run WORKFLOW --executor ray`). The lazy stream goes to the object store
    once (cloudpickle carries its render closures); each task renders and encodes its
    range as its own closed x264 session, and the encoder on the driver joins them.

    Ray starts in the background when the runner is made, while the run computes
    what comes before its encode: a local Ray (`num_cpus` CPUs, default all) when no
    `address` is given, else the cluster there; `close()` stops a Ray it started."""

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        cpus_per_segment: int = 1,
    ):
        require_ray("segments on Ray")
        self.cpus_per_segment = cpus_per_segment
        self.segments_run = 0
        self._ray = RayStart(address=address, num_cpus=num_cpus)
        self._remote: Any = None

    @property
    def shares_flights(self) -> bool:  # type: ignore[override]
        """On a Ray of its own the driver renders the pilot: the rows after it may
        start while it encodes, on the driver only, which shares its cache and claims
        (Ray gets rows once the pilot is done: its workers see only what the pilot has
        written to the disk cache). A joined Ray runs the pilot as a task."""
        return self._here is not None

    @property
    def ray(self) -> Any:
        self._ray.wait()
        return self._ray.ray

    def start(self) -> None:
        """Wait for Ray (ExecutorError when it cannot start)."""
        self._ray.wait()

    @property
    def workers(self) -> int:
        """Segments that run at once (0 when Ray could not start)."""
        try:
            return self._ray.cpus() // self.cpus_per_segment
        except ExecutorError:
            return 0

    def __call__(
        self,
        video: Any,
        ranges: Any,
        settings: Any,
        progress: Callable[[int], None] | None = None,
    ) -> list[Any]:
        self.start()
        ref = self.ray.put(video)
        opts = {
            "num_cpus": self.cpus_per_segment,
            "max_retries": MAX_RETRIES,
            "retry_exceptions": True,
        }
        if self._remote is None:
            self._remote = self.ray.remote(_encode_segment)
        tasks = [self._remote.options(**opts).remote(ref, a, b, settings) for a, b in ranges]
        frames = {t: b - a for t, (a, b) in zip(tasks, ranges, strict=True)}
        pending, done = list(tasks), 0
        try:
            while pending:
                ready, pending = self.ray.wait(pending, num_returns=1)
                done += sum(frames[t] for t in ready)
                if progress is not None:
                    progress(done)  # also where a cancelled run stops (it raises)
            made = list(self.ray.get(tasks))
        except BaseException:
            for t in pending:
                self.ray.cancel(t, force=True)
            raise
        self.segments_run += len(made)
        return made

    def close(self) -> None:
        self._ray.stop()


def _threads_as_assigned() -> None:
    """A Ray worker shares the machine with the other workers: its voice model and its
    encoder get the CPUs Ray assigned to the task, not every core (tts.voice_threads,
    encoder.encode_lanes)."""
    import ray

    cpus = int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1) or 1)
    os.environ.setdefault("REELGRAPH_VOICE_THREADS", str(max(1, cpus)))
    os.environ.setdefault("REELGRAPH_ENCODE_LANES", str(max(1, min(2, cpus))))


def _warm(cache_dir: str | None, workflow: dict[str, Any]) -> str:
    from ..batch.job import warm_worker

    _threads_as_assigned()
    return warm_worker(cache_dir, workflow)


def _chain(inner: Future[Any], outer: Future[Any]) -> None:
    """`outer` (handed out before Ray was up) ends as `inner` does."""

    def copy(f: Future[Any]) -> None:
        exc = f.exception()
        if exc is not None:
            outer.set_exception(exc)
        else:
            outer.set_result(f.result())

    inner.add_done_callback(copy)


DRIVER_ROWS_ENV = "REELGRAPH_RAY_DRIVER_ROWS"


def _driver_rows_limit() -> int | None:
    """REELGRAPH_RAY_DRIVER_ROWS: the most rows a batch's driver renders itself while
    its local Ray starts (1: the pilot only); unset, no limit."""
    asked = os.environ.get(DRIVER_ROWS_ENV, "").strip()
    return max(1, int(asked)) if asked.isdigit() else None


def _run_row(job: dict[str, Any]) -> Any:
    from ..batch.job import execute_row_elsewhere

    _threads_as_assigned()
    return execute_row_elsewhere(job)


class RowWorker:
    """A Ray actor that runs rows side by side in threads of one process, the way the
    local executor does: one warm-up (Ray, libraries, the workflow's voices) and one
    memory cache for all of a machine's rows, where a task per row needs a warmed
    process per CPU, each reading the shared scenes from the disk cache again. Used
    on a Ray this process started itself (one machine); if its process dies, Ray
    starts it again and runs its rows again (max_restarts, max_task_retries)."""

    def __init__(self, cache_dir: str | None, workflow: dict[str, Any], slots: int):
        from ..batch.job import warm_worker, worker_state

        # The voice model of each row gets its share of the actor's CPUs.
        os.environ.setdefault("REELGRAPH_VOICE_THREADS", "1")
        # Its rows share its memory cache: only slow results need the disk (the
        # local executor's rule), which saves serialising every small one.
        worker_state(cache_dir, everything_to_disk=False)
        self.where = warm_worker(cache_dir, workflow)
        self.slots = slots

    def ready(self) -> str:
        return self.where

    def run(self, job: dict[str, Any]) -> Any:
        from ..batch.job import execute_row_elsewhere

        return execute_row_elsewhere(job)


# For a Ray this process starts itself: the raylet would start one worker process per
# CPU as soon as the driver connects (each importing Ray, ~1.2 s of CPU), where the
# rows use one RowWorker process. Ray's `_system_config`; a Ray that runs already,
# a cluster above all, is joined with its own settings.
OWN_RAY_CONFIG = {"enable_worker_prestart": False, "prestart_worker_first_driver": False}


class RayExecutor(Executor):
    """Rows on Ray. A local Ray (no `address`) takes seconds to start: its control
    processes and worker processes each import Ray. The driver does not sit idle
    meanwhile: it starts Ray in the background and runs rows itself, one per core at
    a time (the pilot row first, with every core), taking the next waiting row as
    each one ends. Those rows write to the same disk cache the Ray workers read.

    On a Ray it started (this machine), Ray's rows go to one RowWorker actor with a
    slot per CPU, fed one row per free slot, and the driver goes on taking rows
    beside it: a row goes to whichever is free first, so neither waits while the
    other has rows queued. Once every row is handed over and none waits or runs on
    Ray, that Ray is stopped while the driver finishes its last rows.

    Joining a running Ray or a cluster (`address`) is done at once, and every row is
    a Ray task of its own (`num_cpus`, `num_gpus=1` for a gpu row), placed by Ray on
    any machine; nothing runs on the driver but what it took while joining."""

    name = "ray"
    shares_staging = False

    def __init__(
        self, *, address: str | None = None, workers: int = 0, cache_dir: str | None = None
    ):
        require_ray("--executor ray")
        self.cache_dir = cache_dir
        self._lock = threading.Lock()
        self._refs: list[Any] = []
        self._warming: list[Any] = []
        self._warm_doc: dict[str, Any] | None = None
        self._warm_rows: int | None = None  # rows of the batch (None: unknown)
        self._doc_known = threading.Event()
        self._rows_here = 0  # rows the driver took
        # rows waiting for the driver or Ray, with their listeners (for the driver's)
        self._pending: list[tuple[Any, Future[Any], Callable[[Any], None] | None]] = []
        self._token = CancelToken()
        self._remote: Any = None  # _run_row as a Ray function, made when first used
        self._actor: Any = None  # the RowWorker, on a Ray of our own
        self._actor_slots = 1  # rows it runs at once (its CPUs)
        self._actor_rows = 0  # rows it has now
        # Rows the driver runs at once: one per core, as the local executor would
        # (Ray's start-up and RowWorker take their share of them), and how many it
        # may take in all (REELGRAPH_RAY_DRIVER_ROWS; default: as many as come).
        self._here_lanes = max(1, process_cores())
        self._here_limit = _driver_rows_limit()
        self._here_busy = 0
        self._ready = False  # set once Ray's workers can take rows (or Ray failed)
        self._closing = False  # no more rows for Ray: the batch ends, or Ray is let go
        self._all_in = False  # the batch has handed over every row
        self._on_ray = 0  # rows on Ray now (the RowWorker's and tasks)
        self._pilot_done = False  # Ray takes no row before the pilot has finished
        self._release: threading.Thread | None = None
        self._prewarm: threading.Thread | None = None
        local = (not address or address == LOCAL) and not ray_running_here()
        self._here = (
            ThreadPoolExecutor(self._here_lanes, thread_name_prefix="reelgraph-row")
            if local
            else None
        )
        self._ray = RayStart(
            address=address, num_cpus=workers or None, system_config=OWN_RAY_CONFIG
        )
        if not local:
            self._ray.wait()  # a cluster that cannot be reached is said at once
        self.workers = self._ray.cpus() if self._ray.up else workers or os.cpu_count() or 1
        self._queue = threading.Thread(
            target=self._when_up, name="reelgraph-ray-queue", daemon=True
        )
        self._queue.start()

    @property
    def ray(self) -> Any:
        """The Ray module, once Ray is up (it is imported while Ray starts)."""
        self._ray.wait()
        return self._ray.ray

    def _when_up(self) -> None:
        """Once Ray is up: the warm-up (a RowWorker on a Ray of our own, else warm-up
        tasks), then the rows that waited for it."""
        try:
            self.workers = self._ray.cpus()
        except ExecutorError:
            pass  # every row waiting for Ray fails with the reason
        if self._ray.error is None and self._ray.started_here:
            self._start_row_worker()
        with self._lock:
            self._ready = True
            doc = self._warm_doc if self._actor is None and not self._closing else None
        if doc is not None:
            self.warm(doc, self._warm_rows)
        self._feed_ray()

    def _start_row_worker(self) -> None:
        """Make the RowWorker and wait until it is warm; the driver keeps taking rows
        meanwhile. If it cannot start, rows go as tasks."""
        self._doc_known.wait()
        with self._lock:
            doc, rows = self._warm_doc, self._warm_rows
            if self._closing or doc is None:
                return
            rows_for_ray = None if rows is None else rows - self._rows_here
        if rows_for_ray is not None and rows_for_ray <= 0:
            return  # the driver did every row: warming a worker would cost seconds for none
        slots = max(1, self.workers)
        actor = (
            self.ray.remote(RowWorker)
            .options(
                num_cpus=slots,
                max_concurrency=slots,
                max_restarts=MAX_RETRIES,
                max_task_retries=MAX_RETRIES,
            )
            .remote(self.cache_dir, doc, slots)
        )
        ready = actor.ready.remote()
        try:
            # A batch the driver finished meanwhile ends now, not when the worker is
            # warm (and Ray is not stopped under a thread still waiting on it).
            while not self.ray.wait([ready], timeout=0.25)[0]:
                if self._closing:
                    raise ExecutorError("the batch ended before its Ray worker was warm")
            self.ray.get(ready)
        except Exception:
            with contextlib.suppress(Exception):
                self.ray.kill(actor, no_restart=True)
            return
        with self._lock:
            self._actor, self._actor_slots = actor, slots

    def prewarm(self, workflow: dict[str, Any]) -> None:
        # The driver renders rows while a Ray of its own starts: its voice loads while
        # the rows are checked, as the local executor's does. (A joined Ray's workers
        # warm themselves in `warm`.)
        if self._here is None:
            return
        self._prewarm = warm_in_background(
            lambda: worker_state(self.cache_dir, everything_to_disk=False)[0], workflow
        )

    def warm(self, workflow: dict[str, Any], rows: int | None = None) -> None:
        # On a Ray of our own this names the workflow the RowWorker warms up for.
        # Elsewhere: one warm-up task per worker that will get a row, started before
        # the rows: while the first rows run, the other workers import their libraries
        # and load the workflow's voices instead of doing so in their first row. Not
        # more: a worker warmed for no row costs the others seconds of CPU (a batch of
        # two rows sends one to Ray). Before Ray is up, this waits for it.
        with self._lock:
            if not self._ready:
                self._warm_doc, self._warm_rows = workflow, rows
                self._doc_known.set()
                return
            rows_for_ray = None if rows is None else rows - self._rows_here
        if self._ray.error is not None or self._actor is not None:
            return
        n = self.workers if rows_for_ray is None else min(self.workers, rows_for_ray)
        remote = self.ray.remote(_warm).options(num_cpus=1, max_retries=0)
        self._warming = [remote.remote(self.cache_dir, workflow) for _ in range(max(0, n))]

    def submit(self, job: Any, listener: Callable[[Any], None] | None = None) -> Future[Any]:
        with self._lock:
            if self._warm_doc is None:
                self._warm_doc = job.workflow  # no warm() call: the first row's workflow
                self._doc_known.set()
            if self._driver_free():
                self._here_busy += 1
                self._rows_here += 1
                return self._run_here(job, listener)
            outer: Future[Any] = Future()
            self._pending.append((job, outer, listener))
            ready = self._ready
        if ready:
            self._feed_ray()
        return outer

    def _run_here(self, job: Any, listener: Callable[[Any], None] | None) -> Future[Any]:
        assert self._here is not None

        pilot = self._rows_here == 1
        if pilot:
            # The pilot gets this machine's CPUs, as the local executor's does: what
            # Ray's start-up leaves of them. Later rows share them, one lane each.
            job.cpu_workers = max(job.cpu_workers, os.cpu_count() or 1)

        def run() -> Any:
            try:
                # The rows it renders share this process's memory cache; what Ray's
                # workers need from them is what took time (cheap results they redo).
                registry, cache = worker_state(job.cache_dir, everything_to_disk=False)
                return execute_row(
                    job, registry=registry, cache=cache, cancel=self._token, listener=listener
                )
            finally:
                if pilot:
                    with self._lock:
                        self._pilot_done = True
                self._take_next_here()
                if pilot:
                    self._feed_ray()

        return self._here.submit(run)

    def _take_next_here(self) -> None:
        """A lane of the driver is free: it takes the next waiting row (the batch hands
        every row over at once after the pilot; without this the driver sat idle for
        seconds while Ray's worker warmed up)."""
        with self._lock:
            self._here_busy -= 1
            if self._closing or self._token.cancelled or not self._pending:
                return
            if not self._driver_free():  # its limit of rows, or Ray is joined
                return
            job, outer, listener = self._pending.pop(0)
            self._here_busy += 1
            self._rows_here += 1
        _chain(self._run_here(job, listener), outer)
        self._release_ray_if_done()

    def _driver_free(self) -> bool:
        """The driver can take one more row now (under the lock): it has a free lane,
        and Ray is starting or is a Ray of its own on this machine, whose RowWorker
        shares the rows with it (a joined Ray, a cluster above all, gets them all)."""
        return (
            self._here is not None
            and self._here_busy < self._here_lanes
            and (self._here_limit is None or self._rows_here < self._here_limit)
            and (not self._ready or self._ray.started_here)
        )

    def _actor_full(self, job: Any) -> bool:
        """The row would go to the RowWorker, and its slots are all taken (under the
        lock): it waits here, where a free lane of the driver may take it instead."""
        return self._actor is not None and not job.gpu and self._actor_rows >= self._actor_slots

    def _feed_ray(self) -> None:
        """Hands waiting rows to Ray: as many as the RowWorker has free slots, and any
        that go as tasks of their own (Ray queues those)."""
        while True:
            with self._lock:
                if self._closing or self._token.cancelled:
                    return
                if not self._ready or (self._here is not None and not self._pilot_done):
                    return  # fed once Ray is up (`_when_up`) and the pilot has ended
                k = next(
                    (i for i, (job, _, _) in enumerate(self._pending) if not self._actor_full(job)),
                    None,
                )
                if k is None:
                    return
                job, outer, _listener = self._pending.pop(k)
                to_actor = self._actor is not None and not job.gpu
                self._actor_rows += to_actor
                self._on_ray += 1
            inner = self._dispatch(job)
            inner.add_done_callback(lambda _f, a=to_actor: self._ray_row_done(a))
            _chain(inner, outer)

    def _ray_row_done(self, to_actor: bool) -> None:
        with self._lock:
            self._actor_rows -= to_actor
            self._on_ray -= 1
        self._feed_ray()
        self._release_ray_if_done()

    def all_submitted(self) -> None:
        with self._lock:
            self._all_in = True
        self._release_ray_if_done()

    def _release_ray_if_done(self) -> None:
        """Every row is handed over, none waits and none is on Ray: Ray is stopped now,
        in the background, while the driver finishes its last rows (stopping it took
        0.5-1 s at the end of every batch), and a RowWorker still warming up is let go."""
        with self._lock:
            if not self._all_in or self._pending or self._on_ray or self._closing:
                return
            self._closing = True
            self._doc_known.set()
            # made and started under the lock: close() either sees it or does the stop
            self._release = threading.Thread(
                target=self._stop_ray, name="reelgraph-ray-stop", daemon=True
            )
            self._release.start()

    def _stop_ray(self) -> None:
        self._queue.join()  # it ends at once when closing (a RowWorker warming is killed)
        if self._actor is not None:
            with contextlib.suppress(Exception):
                self.ray.kill(self._actor, no_restart=True)
        self._ray.stop()

    def _dispatch(self, job: Any) -> Future[Any]:
        if self._ray.error is not None or self._token.cancelled:
            failed: Future[Any] = Future()
            failed.set_exception(ExecutorError(self._ray.error or "cancelled before Ray started"))
            return failed
        job.ship_files = True
        if self._actor is not None and not job.gpu:
            ref = self._actor.run.remote(job.to_dict())
        else:
            opts: dict[str, Any] = {
                "max_retries": MAX_RETRIES,
                "retry_exceptions": True,
                "num_cpus": max(1, job.cpu_workers),
            }
            if job.gpu:
                opts["num_gpus"] = 1
                if self._actor is not None:
                    opts["num_cpus"] = 0  # the RowWorker holds the CPUs of this Ray
            if self._remote is None:
                self._remote = self.ray.remote(_run_row)
            ref = self._remote.options(**opts).remote(job.to_dict())
        self._refs.append(ref)
        return ref.future()

    def cancel(self) -> None:
        self._token.cancel()
        with self._lock:
            pending, self._pending = self._pending, []
        for _job, outer, _listener in pending:
            outer.set_exception(ExecutorError("cancelled"))
        if self._actor is not None:
            # Its rows end with it (an actor's calls cannot be force-cancelled one by one).
            with contextlib.suppress(Exception):
                self.ray.kill(self._actor, no_restart=True)
        for ref in self._refs:
            try:
                self.ray.cancel(ref, force=True)
            except Exception:
                pass

    def close(self) -> None:
        with self._lock:
            release, self._closing = self._release, True
            self._doc_known.set()
        if self._here is not None:
            self._here.shutdown(wait=True, cancel_futures=True)
        if self._prewarm is not None:
            self._prewarm.join()  # see warm_in_background
        if release is not None:
            release.join()
            return
        self._stop_ray()

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "workers": self.workers}
