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

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from . import Executor, ExecutorError

MAX_RETRIES = 3


def _encode_segment(video: Any, start: int, stop: int, settings: Any) -> Any:
    from ..media.encoder import encode_segment

    return encode_segment(video, start, stop, settings)


class RaySegmentRunner:
    """Encode frame ranges of one VIDEO as Ray tasks, one per segment
    (`reelgraph run WORKFLOW --executor ray`). The lazy stream goes to the object store
    once (cloudpickle carries its render closures); each task renders and encodes its
    range as its own closed x264 session, and the encoder on the driver joins them.

    Ray starts on first use: a local Ray (`num_cpus` CPUs, default all) when no
    `address` is given, else the cluster there; `close()` stops a Ray it started."""

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        cpus_per_segment: int = 1,
    ):
        try:
            import ray
        except ImportError:
            raise ExecutorError('segments on Ray need Ray: pip install "reelgraph[ray]"') from None
        self.ray = ray
        self.address = address
        self.num_cpus = num_cpus
        self.cpus_per_segment = cpus_per_segment
        self.started_here = False
        self.segments_run = 0
        self._remote = ray.remote(_encode_segment)

    def start(self) -> None:
        if self.ray.is_initialized():
            return
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if self.address:
            kwargs["address"] = self.address
        elif self.num_cpus:
            kwargs["num_cpus"] = self.num_cpus
        try:
            self.ray.init(**kwargs)
        except Exception as exc:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray"
            raise ExecutorError(f"cannot start {where}: {exc}") from None
        self.started_here = True

    @property
    def workers(self) -> int:
        self.start()
        return int(self.ray.cluster_resources().get("CPU", 1)) // self.cpus_per_segment

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
        if self.started_here and self.ray.is_initialized():
            self.ray.shutdown()
        self.started_here = False


def _warm(cache_dir: str | None, workflow: dict[str, Any]) -> str:
    from ..batch.job import warm_worker

    return warm_worker(cache_dir, workflow)


def _run_row(job: dict[str, Any]) -> Any:
    from ..batch.job import execute_row_elsewhere

    return execute_row_elsewhere(job)


class RayExecutor(Executor):
    name = "ray"
    shares_staging = False

    def __init__(
        self, *, address: str | None = None, workers: int = 0, cache_dir: str | None = None
    ):
        try:
            import ray
        except ImportError:
            raise ExecutorError('--executor ray needs Ray: pip install "reelgraph[ray]"') from None
        self.ray = ray
        self.started_here = False
        if not ray.is_initialized():
            try:
                if address:
                    ray.init(address=address, log_to_driver=False)
                else:
                    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
                    if workers:
                        kwargs["num_cpus"] = workers
                    ray.init(**kwargs)
            except Exception as exc:
                where = f"the Ray cluster at {address}" if address else "a local Ray"
                raise ExecutorError(f"cannot start {where}: {exc}") from None
            self.started_here = True
        self.workers = int(ray.cluster_resources().get("CPU", 1))
        self._remote = ray.remote(_run_row)
        self._refs: list[Any] = []
        self.cache_dir = cache_dir
        self._warming: list[Any] = []

    def warm(self, workflow: dict[str, Any]) -> None:
        # One warm-up task per CPU, started before the pilot row: while it runs on one
        # worker, the others import their libraries and load the workflow's voices
        # instead of doing so in their first row.
        remote = self.ray.remote(_warm).options(num_cpus=1, max_retries=0)
        self._warming = [
            remote.remote(self.cache_dir, workflow) for _ in range(max(1, self.workers))
        ]

    def submit(self, job: Any, listener: Callable[[Any], None] | None = None) -> Future[Any]:
        job.ship_files = True
        opts: dict[str, Any] = {
            "max_retries": MAX_RETRIES,
            "retry_exceptions": True,
            "num_cpus": max(1, job.cpu_workers),
        }
        if job.gpu:
            opts["num_gpus"] = 1
        ref = self._remote.options(**opts).remote(job.to_dict())
        self._refs.append(ref)
        return ref.future()

    def cancel(self) -> None:
        for ref in self._refs:
            try:
                self.ray.cancel(ref, force=True)
            except Exception:
                pass

    def close(self) -> None:
        if self.started_here and self.ray.is_initialized():
            self.ray.shutdown()

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "workers": self.workers}
