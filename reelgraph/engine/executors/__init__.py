"""Where batch rows execute: threads of this process, local worker processes, or Ray.

One interface (`Executor`): `submit(job, listener)` gives a Future of the row's
`RowOutcome`; `cancel()` stops what runs and what waits; `close()` frees the
workers. The batch driver only talks to this interface, so it never knows which
executor it has. Ray is imported only by the Ray executor.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

EXECUTORS = ("local", "processes", "ray")


class ExecutorError(RuntimeError):
    """An executor cannot start (a missing extra, an unreachable cluster)."""


class Executor(ABC):
    name = "executor"
    workers = 1
    # The executor's workers see the driver's staging folder (same filesystem); when
    # false, each row's files come back as bytes with its outcome.
    shares_staging = True
    # The driver runs one row first so the others find what it computed: rows running
    # side by side would each render the scenes they share (their keys are per
    # element, seen only at run time), and processes share only the disk cache.
    needs_pilot = True
    # The listener given to submit() sees the row's engine events (progress per node).
    reports_events = False
    # Rows run in this process on one cache and its single-flight claims (a row about
    # to compute or encode what another row is computing waits for it): the rows
    # after the pilot may start once the pilot is encoding, as everything they share
    # with it is then done or claimed.
    shares_flights = False

    @abstractmethod
    def submit(self, job: Any, listener: Callable[[Any], None] | None = None) -> Future[Any]: ...

    def warm(self, workflow: dict[str, Any], rows: int | None = None) -> None:  # noqa: B027
        """Before the first row: get workers ready for this workflow (imports, voices),
        as many as `rows` rows can keep busy. Executors whose workers share the
        driver's process need nothing (the default is a no-op)."""

    def prewarm(self, workflow: dict[str, Any]) -> None:  # noqa: B027
        """As soon as the workflow is known, before its rows are checked: an executor
        whose rows run in this process may start loading what the workflow's nodes
        load (a voice) in the background. The default does nothing."""

    def all_submitted(self) -> None:  # noqa: B027
        """The batch has handed over its last row: an executor may free what the rows
        already running do not need (the default keeps everything until close())."""

    @abstractmethod
    def cancel(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "workers": self.workers}

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(
    name: str,
    *,
    workers: int = 1,
    cache_dir: str | None = None,
    ray_address: str | None = None,
) -> Executor:
    if name == "local":
        from .local import ThreadExecutor

        return ThreadExecutor(workers=workers, cache_dir=cache_dir)
    if name == "processes":
        from .local import ProcessExecutor

        return ProcessExecutor(workers=workers)
    if name == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(address=ray_address, workers=workers, cache_dir=cache_dir)
    raise ExecutorError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")


__all__ = ["EXECUTORS", "Executor", "ExecutorError", "make_executor"]
