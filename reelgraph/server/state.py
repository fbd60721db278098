"""The server's shared state: its configuration, the run store, the worker, the hub."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from ..engine.resources import web_folder, workflows_folder
from .hub import Hub
from .limits import RunLimits
from .runner import Runner, RunnerSettings
from .store import RunStore


def default_data_dir() -> Path:
    """REELGRAPH_DATA, else the per-user data folder ($XDG_DATA_HOME/reelgraph)."""
    env = os.environ.get("REELGRAPH_DATA")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "reelgraph"


@dataclass
class ServerConfig:
    """What `reelgraph serve` was started with (see server/cli.py for the flags)."""

    host: str = "127.0.0.1"
    port: int = 8188
    token: str | None = None
    data_dir: Path = field(default_factory=lambda: default_data_dir())
    web_dir: Path = field(default_factory=web_folder)
    templates_dir: Path = field(default_factory=workflows_folder)
    custom_nodes: list[Path] | None = None  # None: the engine's defaults
    allow_hosts: set[str] = field(default_factory=set)
    allow_origins: set[str] = field(default_factory=set)
    max_body: int = 32 << 20  # JSON bodies
    max_upload: int = 1 << 30  # one uploaded file
    memory_cache_bytes: int | None = None
    workers: int = 1  # worker processes executing runs
    cancel_grace_s: float = 5.0  # cooperative cancel, then the worker is killed
    quarantine_after: int = 2  # crashes after which a run is failed for good
    limits: RunLimits = field(default_factory=RunLimits.defaults)
    confine_loaders: bool = False  # loaders read only the uploads and models folders
    max_depth: int = 64  # JSON nesting depth of a request body
    max_concurrent_validations: int = 2  # validations / plans running at once (off the loop)
    # A factory for the run store (tests inject a store whose writes fail, as a full disk does).
    store_factory: Any = None


class Server:
    """Everything the handlers share; one per application."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.data = Path(config.data_dir).resolve()
        self.workflows_dir = self.data / "workflows"
        self.uploads_dir = self.data / "uploads"
        self.outputs_dir = self.data / "outputs"
        for d in (self.workflows_dir, self.uploads_dir, self.outputs_dir, self.data / "cache"):
            if d.is_symlink():
                # Nothing under the data folder is reached through a symlink (docs/security.md).
                raise DataDirUnsafe(
                    f"{d} is a symbolic link: refused (point --data at a folder that holds "
                    "the real folders)"
                )
            d.mkdir(parents=True, exist_ok=True)
        for name in ("server.lock", "runs.sqlite3", "runs.sqlite3-wal", "runs.sqlite3-shm"):
            if (self.data / name).is_symlink():
                raise DataDirUnsafe(f"{self.data / name} is a symbolic link: refused")
        self._lock_file = _lock_data_dir(self.data)
        make_store = config.store_factory or RunStore
        self.store = make_store(self.data / "runs.sqlite3")
        self.recovered, self.quarantined = self.store.recover(config.quarantine_after)
        self._sweep_leftovers()
        self.hub = Hub()
        self.validations = asyncio.Semaphore(max(1, config.max_concurrent_validations))
        self.validation_pool = ThreadPoolExecutor(
            max(1, config.max_concurrent_validations), thread_name_prefix="reelgraph-validate"
        )
        self.runner = Runner(
            self.store,
            self.data,
            RunnerSettings(
                workers=config.workers,
                cancel_grace_s=config.cancel_grace_s,
                quarantine_after=config.quarantine_after,
                limits=config.limits,
                custom_nodes=config.custom_nodes,
                memory_cache_bytes=config.memory_cache_bytes,
                confine_roots=self.loader_roots() if config.confine_loaders else None,
            ),
        )
        self.runner.publish = self.publish
        # Called on the event loop with every event the hub gets (the batch queue follows its rows).
        self.event_listeners: list[Callable[[dict[str, Any]], None]] = []
        self.runner.publish_binary = self.hub.publish_binary
        self.runner.want_previews = lambda: bool(self.hub.clients)
        self._registry: asyncio.Future[Any] | None = None
        self.started = time.time()

    def publish(self, message: dict[str, Any]) -> None:
        self.hub.publish(message)
        for listener in list(self.event_listeners):
            try:
                listener(message)
            except Exception:
                logging.getLogger("reelgraph.server").exception("event listener")

    def submit_run(
        self,
        workflow_doc: dict[str, Any],
        params: dict[str, Any] | None = None,
        targets: list[str] | None = None,
        name: str = "",
        limits: RunLimits | None = None,
    ) -> tuple[str, int | None]:
        """Queue a run of an already validated workflow document; returns (run id, position).

        The Python face of POST /api/runs for other parts of the server (a batch queues each
        row here). Raises sqlite3.Error while the store cannot be written. Safe from any
        thread; the run's events reach `event_listeners` and the WebSocket; its files land
        in outputs/<run id>/."""
        from .runner import new_run_id

        run_id = new_run_id()
        chosen = limits if limits is not None else self.config.limits
        self.store.add(run_id, workflow_doc, params or {}, targets, name, chosen.to_dict())
        self.runner.store_ok()
        position = self.store.queue_position(run_id)
        message = {
            "type": "run.queued",
            "run_id": run_id,
            "name": name,
            "position": position,
            "time": time.time(),
        }
        loop = self.runner.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.publish, message)
        self.runner.wake()
        return run_id, position

    def _sweep_leftovers(self) -> None:
        """What a killed server may leave: half-received uploads, temp files of atomic
        writes, and staging folders of runs that will not run again (queued ones are
        wiped by the worker when they start)."""
        for pattern, folder in (
            (".upload-*.tmp", self.uploads_dir),
            (".*.tmp", self.workflows_dir),
            (".*.tmp", self.workflows_dir / ".backups"),
        ):
            if folder.is_symlink():
                continue  # never swept through a link
            for p in folder.glob(pattern):
                p.unlink(missing_ok=True)
        staging = self.outputs_dir / ".partial"
        if staging.is_dir() and not staging.is_symlink():
            for d in staging.iterdir():
                if self.store.status_of(d.name) != "queued":
                    shutil.rmtree(d, ignore_errors=True)

    # The registry loads in a thread so the first response does not wait for node packs.
    def start_loading(self, loop: asyncio.AbstractEventLoop) -> None:
        self._registry = loop.run_in_executor(None, self._discover)

    def _discover(self) -> Any:
        from reelgraph.engine import Registry

        return Registry.discover(self.config.custom_nodes)

    async def registry(self) -> Any:
        assert self._registry is not None
        return await asyncio.shield(self._registry)

    def registry_now(self) -> Any | None:
        f = self._registry
        return f.result() if f is not None and f.done() and not f.exception() else None

    def loader_roots(self) -> list[Path]:
        """The folders loaders may read under --confine-loaders: uploads and models."""
        from reelgraph.engine.models import models_dir

        return [self.uploads_dir, Path(models_dir()).resolve()]


class DataDirInUse(RuntimeError):
    pass


class DataDirUnsafe(RuntimeError):
    """A folder of the data folder is a symbolic link."""


def _lock_data_dir(data: Path) -> Any:
    """One server per data folder: two would both claim runs and requeue each other's."""
    fd = os.open(data / "server.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
    f = os.fdopen(fd, "a+")  # held for the server's lifetime
    try:
        import fcntl

        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:
        pass  # no flock (Windows): unguarded
    except OSError:
        f.close()
        raise DataDirInUse(f"another reelgraph server is using {data}") from None
    return f


def server_of(request: web.Request) -> Server:
    return request.app[SERVER_KEY]


SERVER_KEY = web.AppKey("server", Server)
