"""System information, node schemas, types, the OpenAPI document and the WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from aiohttp import web

from . import __version__
from .common import bad
from .openapi import openapi_document
from .state import server_of


@functools.cache
def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _driver_gpus() -> list[dict[str, Any]]:
    """NVIDIA GPUs as the Linux driver lists them: known before torch is imported."""
    out = []
    with contextlib.suppress(OSError):
        for info in sorted(Path("/proc/driver/nvidia/gpus").glob("*/information")):
            fields = dict(
                line.split(":", 1) for line in info.read_text().splitlines() if ":" in line
            )
            out.append(
                {
                    "type": "cuda",
                    "index": len(out),
                    "name": fields.get("Model", "").strip(),
                    "bus": info.parent.name,
                    "source": "driver",
                }
            )
    return out


def _devices() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"type": "cpu", "cores": os.cpu_count()}]
    torch = sys.modules.get("torch")  # only asked once something imported it: never pay for it here
    if torch is None:
        out.extend(_driver_gpus())
    else:
        with contextlib.suppress(Exception):
            if torch.cuda.is_available():
                for i in range(torch.cuda.device_count()):
                    p = torch.cuda.get_device_properties(i)
                    out.append(
                        {"type": "cuda", "index": i, "name": p.name, "memory": p.total_memory}
                    )
            if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
                out.append({"type": "mps"})
    return out


async def get_system(request: web.Request) -> web.Response:
    s = server_of(request)
    live = s.runner.live
    reg = s.registry_now()
    if s.runner.store_problem is not None:
        await asyncio.to_thread(s.runner.probe_store)  # recovered? a small real write says
    healthy, problems = s.runner.health()
    try:
        counts = await asyncio.to_thread(s.store.counts)
    except Exception as exc:  # a store that cannot even be read: say so, keep answering
        counts = None
        healthy = False
        problems = [*problems, f"the run database cannot be read: {exc}"]
    return web.json_response(
        {
            "healthy": healthy,
            "problems": problems,
            "version": __version__,
            "versions": {
                "reelgraph": __version__,
                "python": platform.python_version(),
                **{
                    d: _version(d)
                    for d in ("aiohttp", "torch", "diffusers", "av", "numpy", "pillow", "piper-tts")
                },
            },
            "platform": platform.platform(),
            "torch_loaded": "torch" in sys.modules,
            "devices": _devices(),
            "uptime_s": time.time() - s.started,
            "nodes_loaded": reg is not None,
            "node_count": len(reg) if reg is not None else None,
            "queue": {
                "length": counts["queued"] if counts else None,
                "running": live.run_id if live else None,
                "running_runs": sorted(s.runner.live_runs()),
                "counts": counts,
            },
            "workers": s.runner.workers_info(),
            "worker_restarts": s.runner.worker_restarts,
            "limits": s.config.limits.to_dict(),
            "confine_loaders": s.config.confine_loaders,
            "cache": s.runner.cache_stats,
            "websocket": s.hub.stats(),
            "recovered_runs": s.recovered,
            "quarantined_runs": s.quarantined,
            "auth": s.config.token is not None,
        }
    )


async def get_nodes(request: web.Request) -> web.Response:
    reg = await server_of(request).registry()
    errors = [{"source": e.source, "message": e.message} for e in reg.load_errors]
    # In a thread: dynamic COMBO options (models on disk) are listed while building schemas.
    schemas = await asyncio.to_thread(reg.schemas)
    return web.json_response({"nodes": schemas, "load_errors": errors}, dumps=_dumps)


async def get_types(request: web.Request) -> web.Response:
    await server_of(request).registry()  # packs may register their own types
    from reelgraph.engine.types import types_document

    return web.json_response(types_document())


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=lambda o: o if isinstance(o, (int, float, str)) else repr(o))


async def websocket(request: web.Request) -> web.StreamResponse:
    s = server_of(request)
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=1 << 16, compress=False)
    if not ws.can_prepare(request).ok:
        raise bad("this endpoint takes a WebSocket upgrade")
    only_run = request.query.get("run") or None
    await ws.prepare(request)
    live = s.runner.live
    hello: dict[str, Any] = {
        "type": "hello",
        "version": __version__,
        "running": live.run_id if live else None,
        "counts": s.store.counts(),
        "preview_format": "uint32 BE header length | JSON header | payload",
    }
    if only_run is not None:
        # Following one run: say where it stands now, so no event before the connect is missed.
        hello["run"] = {"id": only_run, "status": s.store.status_of(only_run)}
    await s.hub.serve(ws, request.transport, hello, only_run)
    return ws


async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(__version__))
