"""The aiohttp application: REST under /api, the WebSocket, and web/ as static files.

Start-up imports nothing heavy: the engine and the node packs load in a
background thread once the socket is listening (endpoints that need them wait
for it), torch only when the first run executes a node. The routes live in
api_system, api_workflows, api_runs and api_files.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from . import api_app, api_batches, api_files, api_runs, api_system, api_workflows
from .common import error, json_errors, pause_gc_for_large_json
from .security import headers, is_loopback, make_middleware
from .state import SERVER_KEY, DataDirInUse, DataDirUnsafe, Server, ServerConfig


def _allowed_hosts(config: ServerConfig) -> set[str]:
    return {config.host.strip("[]").lower(), *(h.lower() for h in config.allow_hosts)}


def create_app(config: ServerConfig) -> web.Application:
    if not is_loopback(config.host) and not config.token:
        raise ValueError(
            f"refusing to serve on {config.host}: a non-loopback address needs a token"
        )
    server = Server(config)
    app = web.Application(
        client_max_size=config.max_body,
        middlewares=[
            headers,
            make_middleware(config.token, _allowed_hosts(config), config.allow_origins),
            json_errors,
            pause_gc_for_large_json,
        ],
    )
    app[SERVER_KEY] = server
    r = app.router
    r.add_get("/api/openapi.json", api_system.get_openapi)
    r.add_get("/api/system", api_system.get_system)
    r.add_get("/api/nodes", api_system.get_nodes)
    r.add_get("/api/types", api_system.get_types)
    r.add_get("/api/workflows", api_workflows.list_workflows)
    r.add_post("/api/workflows/validate", api_workflows.validate_workflow_route)
    r.add_get("/api/workflows/{name}", api_workflows.get_workflow)
    r.add_put("/api/workflows/{name}", api_workflows.put_workflow)
    r.add_delete("/api/workflows/{name}", api_workflows.delete_workflow)
    r.add_get("/api/templates/{name}", api_workflows.get_template)
    r.add_post("/api/runs", api_runs.post_run)
    r.add_get("/api/runs", api_runs.list_runs)
    r.add_get("/api/runs/{run_id}", api_runs.get_run)
    r.add_delete("/api/runs/{run_id}", api_runs.delete_run)
    r.add_post("/api/runs/{run_id}/cancel", api_runs.cancel_run)
    r.add_get("/api/files/{kind}/{path:.+}", api_files.get_file)
    r.add_get("/api/uploads", api_files.list_uploads)
    r.add_post("/api/uploads", api_files.post_upload)
    r.add_get("/api/ws", api_system.websocket)
    api_batches.setup(app)  # /api/batches (batch runs: rows become runs in the queue)
    api_app.add_routes(app)  # the app view, gallery and batch view (/app/..., /api/app/...)
    r.add_route("*", "/api/{tail:.*}", _api_not_found)
    r.add_get("/", api_files.static)
    r.add_get("/{path:.+}", api_files.static)

    async def on_startup(app: web.Application) -> None:
        loop = asyncio.get_running_loop()
        server.start_loading(loop)
        server.runner.start(loop)

    async def on_shutdown(app: web.Application) -> None:
        await server.hub.close_all()

    async def on_cleanup(app: web.Application) -> None:
        # Running runs are cancelled (their workers killed after a short grace) and requeued.
        server.runner.stop()
        await asyncio.to_thread(server.runner.join, 10.0)
        server.validation_pool.shutdown(wait=False, cancel_futures=True)
        server.store.close()
        server._lock_file.close()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    return app


async def _api_not_found(request: web.Request) -> web.Response:
    return error(404, f"no API endpoint {request.method} {request.path}")


__all__ = ["DataDirInUse", "DataDirUnsafe", "ServerConfig", "create_app"]
