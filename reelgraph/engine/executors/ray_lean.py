"""A local Ray without the processes a one-machine batch has no use for.

`ray.init()` on a machine with no Ray starts, besides the GCS and the raylet (and
the raylet's two agents), three Python processes that each import Ray:

- an autoscaler monitor (it resizes clusters of cloud machines);
- a log monitor (it copies workers' output to the driver's terminal, which
  `log_to_driver=False` turns off anyway);
- the dashboard's API server: without the dashboard it serves only Ray Jobs and the
  state API (`ray list`, `ray job submit`), and `ray.init()` waits for it to start.

Each costs ~0.5 s of CPU at the start, on the same cores as the rows; the autoscaler
monitor takes a second to stop when the batch ends, and waiting for the API server
added ~0.7 s to the start. `ray start --head` has flags for the monitors
(`--no-monitor`, `--include-log-monitor=false`) but none for the API server, and
`ray.init()` has none at all: while it starts a Ray of this process's own, the node
settings it builds leave the monitors out and the node it makes skips the API server.

Ray's classes are swapped for subclasses only for that call. A Ray whose classes do
not look as expected (renamed settings or methods) is started as it is.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Iterator
from typing import Any

LEAN_NODE = {"no_monitor": True, "include_log_monitor": False}
_PATCH_LOCK = threading.Lock()


def _lean_params_class(params: Any) -> Any | None:
    """A subclass of Ray's RayParams that defaults LEAN_NODE, or None when this Ray's
    RayParams does not take those names."""
    try:
        names = inspect.signature(params.__init__).parameters
    except (TypeError, ValueError):
        return None
    if any(name not in names for name in LEAN_NODE):
        return None

    class LeanRayParams(params):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any):
            for name, value in LEAN_NODE.items():
                kwargs.setdefault(name, value)
            super().__init__(*args, **kwargs)

    return LeanRayParams


def _lean_node_class(node: Any) -> Any | None:
    """A subclass of Ray's Node that starts no API server, or None when this Ray's
    Node has no such step."""
    if not callable(getattr(node, "start_api_server", None)):
        return None

    class LeanNode(node):  # type: ignore[misc, valid-type]
        def start_api_server(self, *args: Any, **kwargs: Any) -> None:
            return None  # no Ray Jobs or state API on a batch's own Ray

    return LeanNode


@contextlib.contextmanager
def lean_local_ray() -> Iterator[bool]:
    """While it is open, a Ray that `ray.init()` starts here has no autoscaler or log
    monitor and no API server. Yields whether it could arrange that. Only for a Ray
    this process starts: one it joins (a cluster) keeps what it runs."""
    try:
        from ray._private import node as node_module
        from ray._private import parameter
    except ImportError:
        yield False
        return
    with _PATCH_LOCK:
        params = getattr(parameter, "RayParams", None)
        node = getattr(node_module, "Node", None)
        lean_params = _lean_params_class(params) if params is not None else None
        lean_node = _lean_node_class(node) if node is not None else None
        if lean_params is None or lean_node is None:
            yield False
            return
        parameter.RayParams, node_module.Node = lean_params, lean_node
        try:
            yield True
        finally:
            parameter.RayParams, node_module.Node = params, node
