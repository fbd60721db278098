"""The app view and the template gallery: a workflow's params as a form, with no graph.

`/app/` is the gallery and `/app/<workflow>` the form (one static page, web/app.html).
`/api/app/<workflow>` describes the form: one field per param, with the widget of the
input it fills (from the node schema), its label and help text. `/api/app/<workflow>/runs`
lists earlier results of that workflow, and `/api/app/<workflow>/thumbnail` is a gallery
thumbnail: a frame of the workflow's own output, made once by a small run that saves the
first picture the workflow draws, and cached under the data folder (thumbnails/).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from .api_runs import _run_files
from .api_workflows import parse_workflow_or_400, workflow_file
from .common import bad
from .runner import new_run_id
from .state import server_of
from .store import FINAL

THUMB_SIZE = (480, 270)
THUMB_RUN_PREFIX = "thumbnail: "


def _find(s: Any, name: str) -> tuple[Path, str]:
    """A saved workflow first, then a shipped template (as POST /api/runs resolves names)."""
    for folder, kind in ((s.workflows_dir, "workflow"), (s.config.templates_dir, "template")):
        with contextlib.suppress(web.HTTPNotFound):
            path = workflow_file(folder, name)
            if path.is_file():
                return path, kind
    raise bad(f"no saved workflow or template named {name!r}", 404)


async def _load(s: Any, name: str) -> tuple[dict[str, Any], str]:
    path, kind = _find(s, name)
    try:
        doc = json.loads(await asyncio.to_thread(path.read_bytes))
    except (OSError, ValueError) as exc:
        raise bad(f"cannot read workflow {name!r}: {exc}") from None
    if not isinstance(doc, dict):
        raise bad(f"workflow {name!r} is not a JSON object")
    return doc, kind


def _humanize(name: str) -> str:
    words = name.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def _field(name: str, p: dict[str, Any], doc: dict[str, Any], reg: Any) -> dict[str, Any]:
    """One form field: the param, plus the widget of the input it fills."""
    node = (doc.get("nodes") or {}).get(p.get("node")) or {}
    nt = reg.get(node.get("type")) if isinstance(node, dict) and node.get("type") else None
    spec = (
        next((i for i in nt.schema()["inputs"] if i["name"] == p.get("input")), None)
        if nt
        else None
    )
    widget = dict((spec or {}).get("widget") or {})
    ptype = p.get("type", "TEXT")
    if not widget:
        widget = {"kind": {"INT": "INT", "FLOAT": "FLOAT", "BOOL": "BOOL"}.get(ptype, "STRING")}
    kind = widget.get("kind")
    control = (
        "select"
        if kind == "COMBO"
        else "number"
        if kind in ("INT", "FLOAT")
        else "checkbox"
        if kind == "BOOL"
        else "file"
        if widget.get("upload")
        else "textarea"
        if widget.get("multiline")
        else "text"
    )
    title = (node.get("ui") or {}).get("title") if isinstance(node.get("ui"), dict) else None
    return {
        "name": name,
        "label": p.get("label")
        if isinstance(p.get("label"), str) and p["label"]
        else _humanize(name),
        "description": p.get("description") if isinstance(p.get("description"), str) else "",
        "type": ptype,
        "default": p.get("default"),
        "control": control,
        "widget": widget,
        "node": p.get("node"),
        "input": p.get("input"),
        "step_title": title or (nt.display_name if nt else node.get("type")),
    }


def describe(doc: dict[str, Any], name: str, kind: str, reg: Any) -> dict[str, Any]:
    params = doc.get("params") if isinstance(doc.get("params"), dict) else {}
    fields = [_field(n, p, doc, reg) for n, p in params.items() if isinstance(p, dict)]
    steps = []
    for nid, node in (doc.get("nodes") or {}).items():
        if not isinstance(node, dict) or node.get("bypass"):
            continue
        nt = reg.get(node.get("type")) if node.get("type") else None
        ui = node.get("ui") if isinstance(node.get("ui"), dict) else {}
        steps.append(
            {
                "id": nid,
                "type": node.get("type"),
                "title": ui.get("title") or (nt.display_name if nt else node.get("type")),
                "category": nt.category if nt else "",
            }
        )
    return {
        "name": name,
        "kind": kind,
        "title": doc.get("name") if isinstance(doc.get("name"), str) else name,
        "description": doc.get("description") if isinstance(doc.get("description"), str) else "",
        "fields": fields,
        "steps": steps,
    }


async def app_page(request: web.Request) -> web.StreamResponse:
    s = server_of(request)
    path = s.config.web_dir / "app.html"
    if not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(
        path, headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"}
    )


async def get_app(request: web.Request) -> web.Response:
    s = server_of(request)
    name = request.match_info["name"]
    doc, kind = await _load(s, name)
    reg = await s.registry()
    return web.json_response(await asyncio.to_thread(describe, doc, name, kind, reg))


def _results(s: Any, name: str, limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    offset = 0
    while len(out) < limit:
        rows, total = s.store.page(status=None, limit=200, offset=offset)
        for r in rows:
            if r["name"] != name or r["status"] not in FINAL:
                continue
            files = _run_files(s.outputs_dir, r["id"])
            err = r.get("error")
            out.append(
                {
                    "id": r["id"],
                    "status": r["status"],
                    "created": r["created"],
                    "ended": r["ended"],
                    "seconds": (r.get("summary") or {}).get("seconds"),
                    "error": err.get("message") if isinstance(err, dict) else None,
                    "files": files,
                }
            )
            if len(out) >= limit:
                break
        offset += len(rows)
        if not rows or offset >= total or offset >= 2000:
            break
    return out


async def get_app_runs(request: web.Request) -> web.Response:
    s = server_of(request)
    name = request.match_info["name"]
    _find(s, name)
    return web.json_response({"runs": await asyncio.to_thread(_results, s, name, 12)})


# ---------------------------------------------------------------- gallery thumbnails
def _first_picture(doc: dict[str, Any], reg: Any) -> str | None:
    """The node whose picture stands for the workflow: a title card, else the cheapest image
    that a param changes, else the cheapest image (no GPU model anywhere upstream)."""
    nodes = {k: v for k, v in (doc.get("nodes") or {}).items() if isinstance(v, dict)}

    def ancestors(nid: str) -> set[str]:
        seen: set[str] = set()
        stack = [nid]
        while stack:
            for v in (nodes.get(stack.pop(), {}).get("inputs") or {}).values():
                if isinstance(v, dict) and isinstance(v.get("from"), str) and v["from"] not in seen:
                    seen.add(v["from"])
                    stack.append(v["from"])
        return seen

    params = doc.get("params") if isinstance(doc.get("params"), dict) else {}
    targets = {p.get("node") for p in params.values() if isinstance(p, dict)}
    found = []
    for nid, n in nodes.items():
        nt = reg.get(n.get("type")) if n.get("type") else None
        if nt is None or n.get("bypass") or nt.resource == "gpu":
            continue
        if any(o.type in ("IMAGE", "list[IMAGE]") for o in nt.outputs):
            heavy = any(
                (reg.get(nodes.get(a, {}).get("type") or "") or nt).resource == "gpu"
                for a in ancestors(nid)
            )
            if not heavy:
                # a picture the params change comes first: a row's still then shows that row
                moved = bool(({nid} | ancestors(nid)) & targets)
                found.append(("TitleCard" not in nt.id, not moved, len(ancestors(nid)), nid))
    return min(found)[-1] if found else None


def _thumbnail_workflow(doc: dict[str, Any], reg: Any) -> dict[str, Any] | None:
    """The workflow plus a tiny video of its first picture (one frame per scene), drawn small.

    A clip, a join and an encoder rather than one PNG writer: the picture node often runs once
    per scene, and the join takes the list of them however many there are.
    """
    nid = _first_picture(doc, reg)
    if nid is None:
        return _cover_workflow(doc, reg)
    chain = ("video.ImageToClip", "video.Concat", "video.Encode")
    if any(reg.get(t) is None for t in chain):
        return None
    out = json.loads(json.dumps(doc))
    node = out["nodes"][nid]
    nt = reg.get(node["type"])
    names = {i.name for i in nt.inputs}
    inputs = node.setdefault("inputs", {})
    size: dict[str, Any] = dict(zip(("width", "height"), THUMB_SIZE, strict=True))
    if {"width", "height"} <= names:
        given = {i.name: inputs.get(i.name, i.default) for i in nt.inputs if i.name in size}
        if any(isinstance(v, dict) for v in given.values()):
            # the size comes from elsewhere (a format preset): the clip takes the same, so a
            # vertical card stays whole instead of being cropped to 16:9
            size = json.loads(json.dumps(given))
        elif all(isinstance(v, int | float) and v > 0 for v in given.values()):
            k = min(THUMB_SIZE[0] / given["width"], THUMB_SIZE[1] / given["height"])
            size = {n: max(2, int(v * k) // 2 * 2) for n, v in given.items()}  # its shape, small
            inputs.update(size)
        else:
            inputs.update(size)
    picture = next(o for o in nt.outputs if o.type in ("IMAGE", "list[IMAGE]")).name
    clip_in = {"image": {"from": nid, "output": picture}, "duration": 0.2, "tail": 0.0}
    clip_in.update(fps=5.0, zoom_start=1.0, zoom_end=1.0, **size)
    nodes = {
        "__thumb_clip__": ("video.ImageToClip", clip_in),
        "__thumb_join__": (
            "video.Concat",
            {"clips": {"from": "__thumb_clip__", "output": "video"}, "transition": "cut"},
        ),
        "__thumbnail__": (
            "video.Encode",
            {"video": {"from": "__thumb_join__", "output": "video"}, "filename": "thumbnail"},
        ),
    }
    for key, (type_id, ins) in nodes.items():
        out["nodes"][key] = {
            "type": type_id,
            "type_version": reg.get(type_id).version,
            "inputs": ins,
        }
    out["targets"] = ["__thumbnail__"]
    return out


COVER_TYPE = "video.Cover"


def _cover_workflow(doc: dict[str, Any], reg: Any) -> dict[str, Any] | None:
    """For a workflow that draws no picture of its own (slides and presenters are video):
    the workflow run to its cover image (video.Cover: a chosen frame with the title), when
    it has one and no GPU model is upstream. The run makes the whole video's recipe but
    encodes nothing."""
    nodes = {k: v for k, v in (doc.get("nodes") or {}).items() if isinstance(v, dict)}
    covers = [k for k, v in nodes.items() if v.get("type") == COVER_TYPE and not v.get("bypass")]
    if not covers or reg.get(COVER_TYPE) is None:
        return None
    if any(
        (nt := reg.get(v.get("type") or "")) is not None and nt.resource == "gpu"
        for v in nodes.values()
    ):
        return None
    out = json.loads(json.dumps(doc))
    out["targets"] = [covers[0]]
    return out


def _made_picture(folder: Path) -> Path | None:
    """What a thumbnail run wrote: its tiny video, or a cover PNG."""
    made = sorted(folder.rglob("*.mp4")) or sorted(folder.rglob("*.png"))
    return made[0] if made else None


def _thumb_paths(s: Any, name: str, doc: dict[str, Any]) -> tuple[Path, Path]:
    key = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]
    folder = s.data / "thumbnails"
    folder.mkdir(exist_ok=True)
    stem = f"{hashlib.sha256(name.encode()).hexdigest()[:12]}-{key}"
    return folder / f"{stem}.png", folder / f"{stem}.json"


def _shrink(src: Path, dst: Path) -> None:
    """The first frame of the thumbnail video (or the cover PNG), as a small PNG."""
    import io

    from reelgraph.engine.workflow import atomic_write

    if src.suffix.lower() == ".png":
        from PIL import Image

        with Image.open(src) as picture:
            im = picture.convert("RGB")
    else:
        import av

        with av.open(str(src)) as container:
            im = next(container.decode(video=0)).to_image().convert("RGB")
    im.thumbnail(THUMB_SIZE)
    buf = io.BytesIO()
    im.save(buf, "PNG", optimize=True)
    atomic_write(dst, buf.getvalue())


async def get_thumbnail(request: web.Request) -> web.StreamResponse:
    """200 with the PNG once made; 202 while its run is queued or running; 204 if none can be made
    (the workflow draws no picture without a model, or its thumbnail run failed)."""
    s = server_of(request)
    name = request.match_info["name"]
    doc, _ = await _load(s, name)
    png, marker = _thumb_paths(s, name, doc)
    headers = {"Cache-Control": "no-cache"}
    if png.is_file():
        return web.FileResponse(png, headers={**headers, "Content-Type": "image/png"})
    state = json.loads(marker.read_text()) if marker.is_file() else None
    if state and state.get("run_id"):
        status = s.store.status_of(state["run_id"])
        if status in ("queued", "running"):
            return web.json_response({"status": "making", "run_id": state["run_id"]}, status=202)
        if status == "finished":
            made = _made_picture(s.outputs_dir / state["run_id"])
            if made is not None:
                await asyncio.to_thread(_shrink, made, png)
                return web.FileResponse(png, headers={**headers, "Content-Type": "image/png"})
        if status is not None or state.get("failed"):
            return web.json_response(
                {"status": "none", "reason": f"thumbnail run {status}"}, status=404
            )
    if state and state.get("failed"):
        return web.Response(status=204, headers={"X-Reason": state["failed"]})
    reg = await s.registry()
    thumb = await asyncio.to_thread(_thumbnail_workflow, doc, reg)
    if thumb is None:
        marker.write_text(json.dumps({"failed": "the workflow draws no picture without a model"}))
        return web.Response(status=204, headers={"X-Reason": "no picture to show"})
    targets = thumb.pop("targets")
    wf = parse_workflow_or_400(thumb)
    run_id = new_run_id()
    s.store.add(run_id, wf.doc, {}, targets, f"{THUMB_RUN_PREFIX}{name}"[:200])
    s.hub.publish(
        {
            "type": "run.queued",
            "run_id": run_id,
            "name": f"{THUMB_RUN_PREFIX}{name}",
            "position": s.store.queue_position(run_id),
            "time": time.time(),
        }
    )
    s.runner.wake()
    marker.write_text(json.dumps({"run_id": run_id}))
    return web.json_response({"status": "making", "run_id": run_id}, status=202)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/app", app_page)
    r.add_get("/app/", app_page)
    r.add_get("/app/{name}", app_page)
    r.add_get("/app/{name}/batch", app_page)
    r.add_get("/api/app/{name}", get_app)
    r.add_get("/api/app/{name}/runs", get_app_runs)
    r.add_get("/api/app/{name}/thumbnail", get_thumbnail)
    add_batch_routes(app)


# ---------------------------------------------------------------- batch view helpers
async def post_sheet(request: web.Request) -> web.Response:
    """A CSV / TSV / JSONL / XLSX as columns and rows, for the batch view's column mapping.

    The raw file is the body; `?filename=` tells its kind. Nothing is run or stored.
    """
    s = server_of(request)
    _find(s, request.match_info["name"])
    from reelgraph.engine.batch import RowsError, parse_rows

    filename = Path(request.query.get("filename") or "rows.csv").name
    data = await request.read()
    if not data:
        raise bad("the sheet is empty")
    try:
        rows = await asyncio.to_thread(parse_rows, data, filename)
    except RowsError as exc:
        raise bad(str(exc)) from None
    return web.json_response(
        {
            "file": filename,
            "columns": rows.columns,
            "rows": [r.values for r in rows.rows],
            "lines": [r.line for r in rows.rows],
        },
        dumps=lambda o: json.dumps(o, default=str),
    )


async def post_still(request: web.Request) -> web.Response:
    """Queue a still frame of one row (its params) before a batch runs: the thumbnail run."""
    s = server_of(request)
    name = request.match_info["name"]
    doc, _ = await _load(s, name)
    body = await request.json()
    params = body.get("params") if isinstance(body, dict) else None
    if not isinstance(params, dict):
        raise bad("body must be {'params': {name: value}}")
    reg = await s.registry()
    thumb = await asyncio.to_thread(_thumbnail_workflow, doc, reg)
    if thumb is None:
        raise bad("this workflow draws no picture that can be previewed without a model", 422)
    targets = thumb.pop("targets")
    wf = parse_workflow_or_400(thumb)
    from reelgraph.engine import WorkflowError
    from reelgraph.engine.workflow import apply_params

    try:
        apply_params(wf, params)  # a row that cannot run is said now, not after a queue wait
    except WorkflowError as exc:
        raise bad(
            "the row does not fit the workflow", issues=[i.to_dict() for i in exc.issues]
        ) from None
    run_id = new_run_id()
    label = f"preview: {name}"[:200]
    s.store.add(run_id, wf.doc, params, targets, label)
    s.hub.publish({"type": "run.queued", "run_id": run_id, "name": label, "time": time.time()})
    s.runner.wake()
    return web.json_response({"run_id": run_id, "url": f"/api/app/stills/{run_id}"}, status=202)


async def get_still(request: web.Request) -> web.StreamResponse:
    """200 PNG when the still's run is done; 202 while it runs; 422 with the error if it failed."""
    s = server_of(request)
    run_id = request.match_info["run_id"]
    row = s.store.get(run_id)
    if row is None or not str(row.get("name", "")).startswith("preview: "):
        raise bad("no such preview", 404)
    png = s.data / "thumbnails" / f"still-{run_id}.png"
    if png.is_file():
        return web.FileResponse(png, headers={"Content-Type": "image/png"})
    if row["status"] in ("queued", "running"):
        return web.json_response({"status": row["status"]}, status=202)
    made = _made_picture(s.outputs_dir / run_id) if row["status"] == "finished" else None
    if made is None:
        err = row.get("error")
        message = err.get("message") if isinstance(err, dict) else f"the preview {row['status']}"
        return web.json_response({"status": row["status"], "error": message}, status=422)
    png.parent.mkdir(exist_ok=True)
    await asyncio.to_thread(_shrink, made, png)
    return web.FileResponse(png, headers={"Content-Type": "image/png"})


class _Pipe:
    """A write-only, unseekable file whose bytes go to an asyncio queue (with back-pressure)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None]):
        self.loop, self.queue = loop, queue

    def write(self, data: bytes) -> int:
        if data:
            asyncio.run_coroutine_threadsafe(self.queue.put(bytes(data)), self.loop).result()
        return len(data)

    def flush(self) -> None:
        pass


async def get_batch_zip(request: web.Request) -> web.StreamResponse:
    """Every file of every row of a batch as one ZIP, streamed while it is written (not built in memory)."""
    import re
    import zipfile

    from .api_batches import _store

    s = server_of(request)
    batch_id = request.match_info["batch_id"]
    store = _store(request)
    b = store.get(batch_id)
    if b is None:
        raise bad("no such batch", 404)
    files: list[tuple[Path, str]] = []
    for r in store.rows(batch_id):
        run_id = r.get("run_id")
        if not run_id or not re.fullmatch(r"[0-9a-f]{16}", run_id):
            continue
        folder = s.outputs_dir / run_id
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(r["stem"]))[:80] or f"row{r['row']}"
        for f in _run_files(s.outputs_dir, run_id):
            path = s.outputs_dir.parent / f["file"]
            if path.is_file() and folder in path.parents:
                files.append(
                    (path, f"{int(r['row']):04d}-{stem}/{path.relative_to(folder).as_posix()}")
                )
    if not files:
        raise bad("no row of this batch has made a file yet", 404)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=16)

    def produce() -> None:
        try:
            # stored, not deflated: videos are compressed already; unseekable: data descriptors
            with zipfile.ZipFile(_Pipe(loop, queue), "w", zipfile.ZIP_STORED) as z:  # type: ignore[arg-type]
                for path, arc in files:
                    z.write(path, arc)
        finally:
            asyncio.run_coroutine_threadsafe(queue.put(None), loop).result()

    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", b.get("name") or batch_id)[:60] or batch_id
    resp = web.StreamResponse(
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{name}-{batch_id[:8]}.zip"',
        }
    )
    await resp.prepare(request)
    task = asyncio.ensure_future(asyncio.to_thread(produce))
    try:
        while (chunk := await queue.get()) is not None:
            await resp.write(chunk)
    finally:
        while not task.done():  # a client that went away: let the writer finish into the void
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
            await asyncio.sleep(0.01)
    await task
    await resp.write_eof()
    return resp


def add_batch_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/app/{name}/sheet", post_sheet)
    r.add_post("/api/app/{name}/still", post_still)
    r.add_get("/api/app/stills/{run_id}", get_still)
    r.add_get("/api/app/batches/{batch_id}/zip", get_batch_zip)
