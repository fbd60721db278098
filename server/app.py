"""The aiohttp application: REST under /api, the WebSocket, and web/ as static files.

Start-up imports nothing heavy: the engine and the node packs load in a
background thread once the socket is listening (endpoints that need them wait
for it), torch only when the first run executes a node.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from . import __version__
from .hub import Hub
from .media import mime_for, sniff
from .openapi import openapi_document
from .paths import UnsafePath, check_relative, safe_join
from .runner import Runner, new_run_id
from .security import headers, make_middleware
from .store import FINAL, STATUSES, RunStore

log = logging.getLogger("reelgraph.server")

REPO = Path(__file__).resolve().parent.parent
WORKFLOW_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,99}$")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8188
    token: str | None = None
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("REELGRAPH_DATA", "reelgraph-data")))
    web_dir: Path = REPO / "web"
    templates_dir: Path = REPO / "workflows"
    custom_nodes: list[Path] | None = None  # None: the engine's defaults
    allow_hosts: set[str] = field(default_factory=set)
    max_body: int = 32 << 20  # JSON bodies
    max_upload: int = 1 << 30  # one uploaded file
    memory_cache_bytes: int | None = None


# --- app state ---------------------------------------------------------------


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
        self.hub = Hub()
        self.runner = Runner(self.store, self.data, self._make_engine)
        self.runner.publish = self.hub.publish
        self.runner.publish_binary = self.hub.publish_binary
        self.runner.want_previews = lambda: bool(self.hub.clients)
        self._registry: asyncio.Future[Any] | None = None
        self.started = time.time()

    # The registry loads in a thread so the first response does not wait for node packs.
    def start_loading(self, loop: asyncio.AbstractEventLoop) -> None:
        self._registry = loop.run_in_executor(None, self._discover)

    def _discover(self) -> Any:
        from engine import Registry

        return Registry.discover(self.config.custom_nodes)

    async def registry(self) -> Any:
        assert self._registry is not None
        return await asyncio.shield(self._registry)

    def registry_now(self) -> Any | None:
        f = self._registry
        return f.result() if f is not None and f.done() and not f.exception() else None

    def _make_engine(self) -> Any:
        from engine import Cache, DiskCache, Engine, MemoryCache

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


# --- helpers -----------------------------------------------------------------


def error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


async def read_json(request: web.Request) -> Any:
    try:
        data = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise web.HTTPRequestEntityTooLarge(
            max_size=request.app[SERVER_KEY].config.max_body, actual_size=request.content_length or 0,
            text=json.dumps({"error": "request body too large"}), content_type="application/json",
        ) from None
    try:
        return json.loads(data) if data else None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _bad(f"body is not valid JSON: {exc}") from None


def _bad(message: str, status: int = 400, **extra: Any) -> web.HTTPException:
    cls = {400: web.HTTPBadRequest, 404: web.HTTPNotFound, 409: web.HTTPConflict,
           413: web.HTTPRequestEntityTooLarge, 415: web.HTTPUnsupportedMediaType}[status]
    body = json.dumps({"error": message, **extra})
    if status == 413:
        return web.HTTPRequestEntityTooLarge(max_size=0, actual_size=0, text=body,
                                             content_type="application/json")
    return cls(text=body, content_type="application/json")


def _int_query(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(f"query {name!r} must be an integer") from None
    if not lo <= value <= hi:
        raise _bad(f"query {name!r} must be between {lo} and {hi}")
    return value


def check_workflow_name(name: str) -> str:
    if not WORKFLOW_NAME.match(name) or ".." in name or name.endswith((".", " ")) \
            or name.split(".")[0].strip().lower() in _WINDOWS_RESERVED:
        raise _bad("workflow names are 1-100 letters, digits, spaces, '_', '-' or '.', "
                   "starting with a letter or digit")
    return name.removesuffix(".json")


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """API errors as JSON; an unexpected exception is a logged 500, never a traceback to the client."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.content_type == "application/json" or exc.status < 400:
            raise
        return web.json_response({"error": exc.reason}, status=exc.status, headers={
            k: v for k, v in exc.headers.items() if k in ("Allow",)})
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return web.json_response({"error": "internal server error"}, status=500)


# --- system, nodes, types ---------------------------------------------------


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _devices() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"type": "cpu", "cores": os.cpu_count()}]
    torch = sys.modules.get("torch")  # only asked once something imported it: never pay for it here
    if torch is not None:
        with contextlib.suppress(Exception):
            if torch.cuda.is_available():
                for i in range(torch.cuda.device_count()):
                    p = torch.cuda.get_device_properties(i)
                    out.append({"type": "cuda", "index": i, "name": p.name, "memory": p.total_memory})
            if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
                out.append({"type": "mps"})
    return out


async def get_system(request: web.Request) -> web.Response:
    s = server_of(request)
    engine = s.runner.engine
    live = s.runner.live
    reg = s.registry_now()
    return web.json_response({
        "version": __version__,
        "versions": {"reelgraph": __version__, "python": platform.python_version(),
                     "aiohttp": _version("aiohttp"), "torch": _version("torch"), "av": _version("av")},
        "platform": platform.platform(),
        "torch_loaded": "torch" in sys.modules,
        "devices": _devices(),
        "uptime_s": time.time() - s.started,
        "nodes_loaded": reg is not None,
        "node_count": len(reg) if reg is not None else None,
        "queue": {"length": s.store.counts()["queued"], "running": live.run_id if live else None,
                  "counts": s.store.counts()},
        "cache": engine.cache.stats() if engine is not None else None,
        "websocket": s.hub.stats(),
        "recovered_runs": s.recovered,
        "auth": s.config.token is not None,
    })


async def get_nodes(request: web.Request) -> web.Response:
    reg = await server_of(request).registry()
    errors = [{"source": e.source, "message": e.message} for e in reg.load_errors]
    # In a thread: dynamic COMBO options (models on disk) are listed while building schemas.
    schemas = await asyncio.to_thread(reg.schemas)
    return web.json_response({"nodes": schemas, "load_errors": errors}, dumps=_dumps)


async def get_types(request: web.Request) -> web.Response:
    await server_of(request).registry()  # packs may register their own types
    from engine.types import types_document

    return web.json_response(types_document())


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=lambda o: o if isinstance(o, (int, float, str)) else repr(o))


# --- workflows ----------------------------------------------------------------


def _listing(folder: Path) -> list[dict[str, Any]]:
    out = []
    if not folder.is_dir():
        return out
    for p in sorted(folder.glob("*.json")):
        if p.name.startswith(".") or p.is_symlink() or not p.is_file():
            continue
        st = p.stat()
        info: dict[str, Any] = {"name": p.stem, "size": st.st_size, "modified": st.st_mtime}
        with contextlib.suppress(OSError, ValueError):
            if st.st_size < (4 << 20):
                doc = json.loads(p.read_bytes())
                if isinstance(doc, dict):
                    info["title"] = doc.get("name") if isinstance(doc.get("name"), str) else None
                    info["description"] = doc.get("description") if isinstance(doc.get("description"), str) else None
                    if isinstance(doc.get("params"), dict):
                        info["params"] = sorted(doc["params"])
        out.append(info)
    return out


async def list_workflows(request: web.Request) -> web.Response:
    s = server_of(request)
    mine, shipped = await asyncio.gather(asyncio.to_thread(_listing, s.workflows_dir),
                                         asyncio.to_thread(_listing, s.config.templates_dir))
    return web.json_response({"workflows": mine, "templates": shipped})


def _workflow_file(folder: Path, name: str) -> Path:
    name = check_workflow_name(name)
    try:
        return safe_join(folder, f"{name}.json")
    except FileNotFoundError:
        raise _bad(f"no workflow named {name!r}", 404) from None
    except UnsafePath as exc:
        raise _bad(f"bad workflow name: {exc}") from None


async def get_workflow(request: web.Request) -> web.StreamResponse:
    s = server_of(request)
    path = _workflow_file(s.workflows_dir, request.match_info["name"])
    return web.Response(body=await asyncio.to_thread(path.read_bytes), content_type="application/json")


async def get_template(request: web.Request) -> web.StreamResponse:
    s = server_of(request)
    path = _workflow_file(s.config.templates_dir, request.match_info["name"])
    return web.Response(body=await asyncio.to_thread(path.read_bytes), content_type="application/json")


def _parse_workflow(doc: Any) -> Any:
    """Shape check + migration; structural problems -> 400 listing all of them."""
    from engine import WorkflowError
    from engine.workflow import parse_workflow

    try:
        return parse_workflow(doc)
    except WorkflowError as exc:
        raise _bad("invalid workflow", issues=[i.to_dict() for i in exc.issues]) from None


async def put_workflow(request: web.Request) -> web.Response:
    s = server_of(request)
    name = check_workflow_name(request.match_info["name"])
    doc = await read_json(request)
    wf = _parse_workflow(doc)
    reg = await s.registry()
    from engine import validate_workflow

    issues = [i.to_dict() for i in await asyncio.to_thread(validate_workflow, wf, reg)]
    path = s.workflows_dir / f"{name}.json"
    created = await asyncio.to_thread(_save_with_backup, s.workflows_dir, path, wf.to_json().encode())
    return web.json_response({"name": name, "saved": True, "issues": issues},
                             status=201 if created else 200)


def _save_with_backup(folder: Path, path: Path, data: bytes) -> bool:
    """Atomic write; the version it replaces goes to .backups/<name>.json. True if new."""
    from engine.workflow import atomic_write

    if path.is_symlink():
        raise _bad("refusing to write through a symbolic link")
    existed = path.is_file()
    if existed:
        atomic_write(folder / ".backups" / path.name, path.read_bytes())
    atomic_write(path, data)
    return not existed


async def delete_workflow(request: web.Request) -> web.Response:
    s = server_of(request)
    path = _workflow_file(s.workflows_dir, request.match_info["name"])

    def move() -> None:
        from engine.workflow import atomic_write

        # Deleting keeps the last version as the backup: nothing a user saved is lost for good.
        atomic_write(s.workflows_dir / ".backups" / path.name, path.read_bytes())
        path.unlink()

    await asyncio.to_thread(move)
    return web.json_response({"name": path.stem, "deleted": True})


async def validate_workflow_route(request: web.Request) -> web.Response:
    s = server_of(request)
    doc = await read_json(request)
    from engine import WorkflowError, validate_workflow
    from engine.workflow import parse_workflow

    try:
        wf = parse_workflow(doc)
    except WorkflowError as exc:
        issues = [i.to_dict() for i in exc.issues]
    else:
        reg = await s.registry()
        issues = [i.to_dict() for i in await asyncio.to_thread(validate_workflow, wf, reg)]
    errors = [i for i in issues if i.get("severity", "error") == "error"]
    return web.json_response({"ok": not errors, "issues": issues})


# --- runs ---------------------------------------------------------------------


def _plan_check(wf: Any, registry: Any, params: dict[str, Any], targets: list[str] | None) -> list[Any]:
    from engine.graph import compile_plan
    from engine.workflow import apply_params

    run_wf = apply_params(wf, params) if (params or wf.params) else wf
    return compile_plan(run_wf, registry, targets=targets).warnings


async def post_run(request: web.Request) -> web.Response:
    s = server_of(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise _bad('body must be an object: {"workflow": {...} | "saved name", "params": {...}, "targets": [...]}')
    unknown = set(body) - {"workflow", "params", "targets", "name"}
    if unknown:
        raise _bad(f"unknown field(s): {', '.join(sorted(unknown))}")
    params = body.get("params")
    params = {} if params is None else params
    targets = body.get("targets")
    if not isinstance(params, dict):
        raise _bad("'params' must be an object of param name -> value")
    if targets is not None and (not isinstance(targets, list) or not all(isinstance(t, str) for t in targets)):
        raise _bad("'targets' must be a list of node ids, or null for all output nodes")
    doc = body.get("workflow")
    source = None
    if isinstance(doc, str):
        source = doc
        path = None
        for folder in (s.workflows_dir, s.config.templates_dir):
            with contextlib.suppress(web.HTTPNotFound):
                path = _workflow_file(folder, doc)
                break
        if path is None:
            raise _bad(f"no saved workflow or template named {doc!r}", 404)
        try:
            doc = json.loads(await asyncio.to_thread(path.read_bytes))
        except (OSError, ValueError) as exc:
            raise _bad(f"cannot read workflow {source!r}: {exc}") from None
    if not isinstance(doc, dict):
        raise _bad("'workflow' must be a workflow object or the name of a saved workflow")
    wf = _parse_workflow(doc)
    reg = await s.registry()
    from engine import WorkflowError

    try:
        warnings = await asyncio.to_thread(_plan_check, wf, reg, params, targets)
    except WorkflowError as exc:
        return error(400, "the workflow cannot run", issues=[i.to_dict() for i in exc.issues])
    name = body.get("name") if isinstance(body.get("name"), str) else (source or wf.name)
    run_id = new_run_id()
    s.store.add(run_id, wf.doc, params, targets, str(name)[:200])
    position = s.store.queue_position(run_id)
    s.hub.publish({"type": "run.queued", "run_id": run_id, "name": name, "position": position,
                   "time": time.time()})
    s.runner.wake()
    return web.json_response({"run_id": run_id, "status": "queued", "position": position,
                              "warnings": [w.to_dict() for w in warnings],
                              "url": f"/api/runs/{run_id}"}, status=202)


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    err = row.get("error")
    return {
        "id": row["id"], "status": row["status"], "name": row["name"], "created": row["created"],
        "started": row["started"], "ended": row["ended"], "attempts": row["attempts"],
        "summary": row.get("summary") or {},
        "error": err.get("message") if isinstance(err, dict) else None,
    }


async def list_runs(request: web.Request) -> web.Response:
    s = server_of(request)
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        raise _bad(f"query 'status' must be one of {', '.join(STATUSES)}")
    limit = _int_query(request, "limit", 50, 1, 500)
    offset = _int_query(request, "offset", 0, 0, 1 << 40)
    order = request.query.get("order", "newest")
    if order not in ("newest", "oldest"):
        raise _bad("query 'order' must be 'newest' or 'oldest'")
    rows, total = s.store.page(status=status, limit=limit, offset=offset, oldest_first=order == "oldest")
    live = s.runner.live
    return web.json_response({
        "runs": [_summary(r) for r in rows], "total": total, "limit": limit, "offset": offset,
        "next_offset": offset + len(rows) if offset + len(rows) < total else None,
        "counts": s.store.counts(), "running": live.run_id if live else None,
    })


async def get_run(request: web.Request) -> web.Response:
    s = server_of(request)
    row = s.store.get(request.match_info["run_id"])
    if row is None:
        raise _bad("no such run", 404)
    out = _summary(row)
    live = s.runner.live
    nodes = row["nodes"] or {}
    if row["status"] == "running" and live is not None and live.run_id == row["id"]:
        nodes = live.snapshot()
        out["cancel_requested"] = bool(nodes.pop("__run__", {}).get("cancel_requested"))
    wf_nodes = (row["workflow"] or {}).get("nodes") or {}
    default = "pending" if row["status"] in ("queued", "running") else "not_run"
    out["nodes"] = {nid: {"type": (entry or {}).get("type") if isinstance(entry, dict) else None,
                          "state": default, **nodes.get(nid, {})}
                    for nid, entry in wf_nodes.items()}
    out.update(params=row["params"], targets=row["targets"], outputs=row["outputs"],
               error=row["error"], warnings=row["warnings"], workflow=row["workflow"])
    if row["status"] == "queued":
        out["position"] = s.store.queue_position(row["id"])
    return web.json_response(out)


async def cancel_run(request: web.Request) -> web.Response:
    s = server_of(request)
    run_id = request.match_info["run_id"]
    if s.store.cancel_queued(run_id):
        s.hub.publish({"type": "run.cancelled", "run_id": run_id, "status": "cancelled",
                       "before_start": True, "time": time.time()})
        return web.json_response({"run_id": run_id, "status": "cancelled"})
    if s.runner.cancel_running(run_id):
        return web.json_response({"run_id": run_id, "status": "cancelling"}, status=202)
    status = s.store.status_of(run_id)
    if status is None:
        raise _bad("no such run", 404)
    raise _bad(f"run is {status}: only queued or running runs can be cancelled", 409, run_status=status)


async def delete_run(request: web.Request) -> web.Response:
    s = server_of(request)
    run_id = request.match_info["run_id"]
    status = s.store.status_of(run_id)
    if status is None:
        raise _bad("no such run", 404)
    if status not in FINAL or not s.store.delete(run_id):
        raise _bad(f"run is {status}: cancel it first", 409, run_status=status)
    folder = s.outputs_dir / run_id
    if re.fullmatch(r"[0-9a-f]{16}", run_id) and folder.is_dir() and not folder.is_symlink():
        import shutil

        await asyncio.to_thread(shutil.rmtree, folder, True)
    s.hub.publish({"type": "run.deleted", "run_id": run_id, "time": time.time()})
    return web.json_response({"run_id": run_id, "deleted": True})


# --- files and uploads ----------------------------------------------------------


FILE_KINDS = ("outputs", "uploads")


def _file_response(path: Path) -> web.StreamResponse:
    # FileResponse answers Range / If-Range / HEAD itself (206, 416), so videos seek.
    return web.FileResponse(path, headers={
        "Content-Type": mime_for(path.name),
        "Content-Security-Policy": "default-src 'none'; media-src 'self'; img-src 'self'; sandbox",
        "Cache-Control": "no-cache",
    })


async def get_file(request: web.Request) -> web.StreamResponse:
    s = server_of(request)
    kind = request.match_info["kind"]
    if kind not in FILE_KINDS:
        raise _bad(f"file kind must be one of {', '.join(FILE_KINDS)}", 404)
    root = s.outputs_dir if kind == "outputs" else s.uploads_dir
    try:
        path = await asyncio.to_thread(safe_join, root, request.match_info["path"])
    except FileNotFoundError:
        raise _bad("no such file", 404) from None
    except UnsafePath as exc:
        raise _bad(f"refused path: {exc}") from None
    if not path.is_file():
        raise _bad("no such file", 404)
    return _file_response(path)


async def list_uploads(request: web.Request) -> web.Response:
    s = server_of(request)

    def scan() -> list[dict[str, Any]]:
        out = []
        for p in sorted(s.uploads_dir.iterdir()):
            if p.name.startswith(".") or p.is_symlink() or not p.is_file():
                continue
            mime = mime_for(p.name)
            out.append({"name": p.name, "kind": mime.split("/")[0], "mime": mime, "size": p.stat().st_size,
                        "url": f"/api/files/uploads/{p.name}"})
        return out

    return web.json_response({"uploads": await asyncio.to_thread(scan)})


def _clean_stem(filename: str | None) -> str:
    stem = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_-")[:60]
    return stem or "upload"


async def post_upload(request: web.Request) -> web.Response:
    """One file, as multipart field "file" or as the raw body (?filename= names it)."""
    s = server_of(request)
    cap = s.config.max_upload
    if request.content_length is not None and request.content_length > cap + (64 << 10):
        raise _bad(f"upload larger than the {cap} byte limit", 413)
    ctype = request.content_type
    filename: str | None
    if ctype == "multipart/form-data":
        try:
            reader = await request.multipart()
            part = await reader.next()
            while part is not None and getattr(part, "name", None) != "file":
                part = await reader.next()
        except (ValueError, AssertionError, KeyError, HttpProcessingError) as exc:
            raise _bad(f"bad multipart body: {exc}") from None
        if part is None or not hasattr(part, "read_chunk"):
            raise _bad('multipart upload needs a file field named "file"')
        filename = part.filename
        source = part
    else:
        filename = request.query.get("filename")
        source = request.content
    tmp_fd_path = s.uploads_dir / f".upload-{os.getpid()}-{id(request):x}.tmp"
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with open(tmp_fd_path, "wb") as f:
            while True:
                try:
                    chunk = await (source.read_chunk(1 << 16) if hasattr(source, "read_chunk")
                                   else source.read(1 << 16))
                except (ValueError, AssertionError, HttpProcessingError) as exc:
                    raise _bad(f"bad upload body: {exc}") from None
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    raise _bad(f"upload larger than the {cap} byte limit", 413)
                if len(head) < 64:
                    head += chunk[: 64 - len(head)]
                digest.update(chunk)
                await asyncio.to_thread(f.write, chunk) if len(chunk) > (1 << 20) else f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        if size == 0:
            raise _bad("empty upload")
        found = sniff(head)
        if found is None:
            raise _bad("not a recognised image, audio or video file (checked by content, not by name)", 415)
        kind, mime, ext = found
        name = f"{_clean_stem(filename)}-{digest.hexdigest()[:12]}{ext}"
        os.replace(tmp_fd_path, s.uploads_dir / name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_fd_path.unlink()
    return web.json_response({
        "name": name, "kind": kind, "mime": mime, "size": size, "sha256": digest.hexdigest(),
        "path": str(s.uploads_dir / name), "url": f"/api/files/uploads/{name}",
    }, status=201)


# --- websocket ------------------------------------------------------------------


async def websocket(request: web.Request) -> web.StreamResponse:
    s = server_of(request)
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=1 << 16, compress=False)
    if not ws.can_prepare(request).ok:
        raise _bad("this endpoint takes a WebSocket upgrade")
    await ws.prepare(request)
    live = s.runner.live
    await s.hub.serve(ws, {
        "type": "hello", "version": __version__, "running": live.run_id if live else None,
        "counts": s.store.counts(), "preview_format": "uint32 BE header length | JSON header | payload",
    })
    return ws


# --- static web/ ------------------------------------------------------------------


async def static(request: web.Request) -> web.StreamResponse:
    s = server_of(request)
    name = request.match_info.get("path") or "index.html"
    if name.endswith("/"):
        name += "index.html"
    try:
        path = await asyncio.to_thread(safe_join, s.config.web_dir, name)
        if path.is_dir():
            path = safe_join(s.config.web_dir, f"{name.rstrip('/')}/index.html")
    except (FileNotFoundError, UnsafePath):
        raise web.HTTPNotFound() from None
    if not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": mime_for(path.name), "Cache-Control": "no-cache"})


async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(__version__))


# --- assembling -------------------------------------------------------------------


def _allowed_hosts(config: ServerConfig) -> set[str]:
    return {config.host.strip("[]").lower(), *(h.lower() for h in config.allow_hosts)}


def create_app(config: ServerConfig) -> web.Application:
    server = Server(config)
    app = web.Application(
        client_max_size=config.max_body,
        middlewares=[headers, make_middleware(config.token, _allowed_hosts(config)), json_errors],
    )
    app[SERVER_KEY] = server
    r = app.router
    r.add_get("/api/openapi.json", get_openapi)
    r.add_get("/api/system", get_system)
    r.add_get("/api/nodes", get_nodes)
    r.add_get("/api/types", get_types)
    r.add_get("/api/workflows", list_workflows)
    r.add_post("/api/workflows/validate", validate_workflow_route)
    r.add_get("/api/workflows/{name}", get_workflow)
    r.add_put("/api/workflows/{name}", put_workflow)
    r.add_delete("/api/workflows/{name}", delete_workflow)
    r.add_get("/api/templates/{name}", get_template)
    r.add_post("/api/runs", post_run)
    r.add_get("/api/runs", list_runs)
    r.add_get("/api/runs/{run_id}", get_run)
    r.add_delete("/api/runs/{run_id}", delete_run)
    r.add_post("/api/runs/{run_id}/cancel", cancel_run)
    r.add_get("/api/files/{kind}/{path:.+}", get_file)
    r.add_get("/api/uploads", list_uploads)
    r.add_post("/api/uploads", post_upload)
    r.add_get("/api/ws", websocket)
    r.add_route("*", "/api/{tail:.*}", _api_not_found)
    r.add_get("/", static)
    r.add_get("/{path:.+}", static)

    async def on_startup(app: web.Application) -> None:
        loop = asyncio.get_running_loop()
        server.start_loading(loop)
        server.runner.start(loop)

    async def on_shutdown(app: web.Application) -> None:
        await server.hub.close_all()

    async def on_cleanup(app: web.Application) -> None:
        server.runner.stop()
        await asyncio.to_thread(server.runner.join, 10.0)
        engine = server.runner.engine
        if engine is not None and not server.runner.alive():
            # (a node that ignores cancellation keeps the worker busy: exit without waiting;
            # its run is still 'running' in the database and restarts with the next server)
            await asyncio.to_thread(engine.close)
        server.store.close()
        server._lock_file.close()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    return app


async def _api_not_found(request: web.Request) -> web.Response:
    return error(404, f"no API endpoint {request.method} {request.path}")


__all__ = ["ServerConfig", "check_relative", "create_app"]
