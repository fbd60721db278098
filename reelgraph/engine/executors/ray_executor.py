"""Rows as Ray tasks (`reelgraph batch --executor ray`, the `reelgraph[ray]` extra).

`ray.init()` starts a local Ray when no address is given; `--ray-address` joins
a cluster. A row asks for what its plan needs: `num_gpus=1` when a node of the
gpu class is in it, else `num_cpus` of its job. Workers share the disk cache
through its folder (a shared path on a cluster) and send each row's files back,
so outputs land in --out on the driver. A task whose worker dies is retried
(`max_retries`), as is one that raised (`retry_exceptions`), so a killed worker
loses no row.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from . import Executor, ExecutorError

MAX_RETRIES = 3


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
