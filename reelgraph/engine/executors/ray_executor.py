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
    """Encode frame ranges of one VIDEO as Ray tasks, one per segment. The lazy stream
    goes to the object store once (cloudpickle carries its render closures); each task
    renders and encodes its range as its own closed x264 session."""

    def __init__(self, *, num_cpus: int = 1):
        try:
            import ray
        except ImportError:
            raise ExecutorError('segments on Ray need Ray: pip install "reelgraph[ray]"') from None
        self.ray = ray
        self.num_cpus = num_cpus
        self._remote = ray.remote(_encode_segment)

    def __call__(self, video: Any, ranges: Any, settings: Any) -> list[Any]:
        if not self.ray.is_initialized():
            self.ray.init(include_dashboard=False, log_to_driver=False)
        ref = self.ray.put(video)
        opts = {"num_cpus": self.num_cpus, "max_retries": MAX_RETRIES, "retry_exceptions": True}
        tasks = [self._remote.options(**opts).remote(ref, a, b, settings) for a, b in ranges]
        return list(self.ray.get(tasks))


def _run_row(job: dict[str, Any]) -> Any:
    from ..batch.job import execute_row_elsewhere

    return execute_row_elsewhere(job)


class RayExecutor(Executor):
    name = "ray"
    shares_staging = False

    def __init__(self, *, address: str | None = None, workers: int = 0):
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
