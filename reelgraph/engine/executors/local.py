"""Executors on this machine: threads sharing one cache, or worker processes.

Threads share the memory cache as well as the disk tier, so a scene rendered
for one row is there for the next at once. Processes share only the disk cache,
but a node that crashes natively costs its row and not the batch.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..batch.job import RowJob, RowOutcome, execute_row, execute_row_elsewhere, warm_in_background
from ..cache import Cache, DiskCache, MemoryCache
from ..context import CancelToken
from ..registry import Registry
from . import Executor


class ThreadExecutor(Executor):
    name = "local"
    reports_events = True
    shares_flights = True

    def __init__(self, *, workers: int = 1, cache_dir: str | None = None):
        self.workers = max(1, workers)
        self.registry = Registry.discover()
        disk = DiskCache(Path(cache_dir)) if cache_dir else None
        self.cache = Cache(MemoryCache(), disk)
        self.token = CancelToken()
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="reelgraph-row")
        self._prewarm: threading.Thread | None = None

    def prewarm(self, workflow: dict[str, Any]) -> None:
        # The voice loads (~0.5 s) while the rows are checked, not in the first row's
        # critical path.
        self._prewarm = warm_in_background(lambda: self.registry, workflow)

    def submit(
        self, job: RowJob, listener: Callable[[Any], None] | None = None
    ) -> Future[RowOutcome]:
        return self.pool.submit(
            execute_row,
            job,
            registry=self.registry,
            cache=self.cache,
            cancel=self.token,
            listener=listener,
        )

    def cancel(self) -> None:
        self.token.cancel()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self._prewarm is not None:  # a batch with nothing left to do waits for it
            self._prewarm.join()
        self.cache.flush()


class ProcessExecutor(Executor):
    name = "processes"

    def __init__(self, *, workers: int = 1):
        self.workers = max(1, workers)
        # spawn: the driver has threads (a forked copy of a locked lock would hang).
        self.pool = ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn")
        )

    def submit(
        self, job: RowJob, listener: Callable[[Any], None] | None = None
    ) -> Future[RowOutcome]:
        return self.pool.submit(execute_row_elsewhere, job.to_dict())

    def cancel(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        for proc in list(getattr(self.pool, "_processes", {}).values()):
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except (OSError, TypeError):
                pass

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
