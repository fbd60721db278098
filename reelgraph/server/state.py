"""The server's shared state: its configuration, the run store, the worker, the hub."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from ..engine.resources import web_folder, workflows_folder
from .hub import Hub
from .runner import Runner
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


class Server:
    """Everything the handlers share; one per application."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.data = Path(config.data_dir).resolve()
        self.workflows_dir = self.data / "workflows"
        self.uploads_dir = self.data / "uploads"
        self.outputs_dir = self.data / "outputs"
        for d in (self.workflows_dir, self.uploads_dir, self.outputs_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._lock_file = _lock_data_dir(self.data)
        self.store = RunStore(self.data / "runs.sqlite3")
        self.recovered = self.store.recover()
        self._sweep_leftovers()
        self.hub = Hub()
        self.runner = Runner(self.store, self.data, self._make_engine)
        self.runner.publish = self.hub.publish
        self.runner.publish_binary = self.hub.publish_binary
        self.runner.want_previews = lambda: bool(self.hub.clients)
        self._registry: asyncio.Future[Any] | None = None
        self.started = time.time()

    def _sweep_leftovers(self) -> None:
        """What a killed server may leave: half-received uploads, temp files of atomic
        writes, and staging folders of runs that will not run again (queued ones are
        wiped by the worker when they start)."""
        for pattern, folder in (
            (".upload-*.tmp", self.uploads_dir),
            (".*.tmp", self.workflows_dir),
            (".*.tmp", self.workflows_dir / ".backups"),
        ):
            for p in folder.glob(pattern):
                p.unlink(missing_ok=True)
        staging = self.outputs_dir / ".partial"
        if staging.is_dir():
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

    def _make_engine(self) -> Any:
        from reelgraph.engine import Cache, DiskCache, Engine, MemoryCache

        registry = asyncio.run_coroutine_threadsafe(self.registry(), self.runner.loop).result()  # type: ignore[arg-type]
        cache = Cache(MemoryCache(self.config.memory_cache_bytes), DiskCache(self.data / "cache"))
        return Engine(registry, cache, out_dir=self.outputs_dir)


class DataDirInUse(RuntimeError):
    pass


def _lock_data_dir(data: Path) -> Any:
    """One server per data folder: two would both claim runs and requeue each other's."""
    f = open(data / "server.lock", "a+")  # noqa: SIM115 - held for the server's lifetime
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
