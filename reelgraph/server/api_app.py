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
from .common import bad, bounded, read_json
from .runner import new_run_id
from .state import server_of
from .store import FINAL
from .thumbnails import (
    FRAME_AT_SECONDS,
    THUMB_RUN_PREFIX,
    ThumbPlan,
    draw_card,
    flat_card,
    flat_colour,
    gpu_nodes,
    made_picture,
    model_card,
    shrink,
    thumbnail_workflow,
)


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
# One lock per thumbnail, so that a gallery opened in two tabs queues one run, not two.
_THUMB_LOCKS: dict[str, asyncio.Lock] = {}


def _thumb_paths(s: Any, name: str, doc: dict[str, Any]) -> tuple[Path, Path]:
    key = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]
    folder = s.data / "thumbnails"
    folder.mkdir(exist_ok=True)
    stem = f"{hashlib.sha256(name.encode()).hexdigest()[:12]}-{key}"
    return folder / f"{stem}.png", folder / f"{stem}.json"


def _write_json(path: Path, value: Any) -> None:
    from reelgraph.engine.workflow import atomic_write

    atomic_write(path, json.dumps(value).encode())


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _plan_thumbnail(doc: dict[str, Any], reg: Any, template: Path | None) -> ThumbPlan:
    """What the thumbnail is made from (see thumbnails.py); checked as a run would be, so a
    workflow that cannot run as shipped gets a card that says why, not a failed run."""
    from reelgraph.engine import WorkflowError
    from reelgraph.engine.graph import plan_run
    from reelgraph.engine.workflow import Workflow, parse_workflow

    from .template_paths import with_template_paths

    try:
        wf = with_template_paths(parse_workflow(doc), template)
    except WorkflowError as exc:
        return ThumbPlan(card="No preview", lines=[f"The workflow cannot be read: {exc}"])
    if gpu_nodes(wf.doc, reg):
        try:
            plan_run(wf, reg)
            missing: dict[str, str] = {}
        except WorkflowError as exc:
            missing = {i.node: i.message for i in exc.issues if i.node and i.severity == "error"}
        return model_card(wf.doc, reg, missing)
    thumb = thumbnail_workflow(wf.doc, reg)
    if thumb is None:
        return ThumbPlan(card="No preview", lines=["The workflow draws no picture and no video"])
    targets = thumb.pop("targets")
    try:
        plan_run(Workflow(thumb), reg, targets=targets)
    except WorkflowError as exc:
        first = next((i for i in exc.issues if i.severity == "error"), exc.issues[0])
        where = f"node {first.node!r}: " if first.node else ""
        return ThumbPlan(card="Cannot run as it is", lines=[f"{where}{first.message}"])
    return ThumbPlan(workflow={**thumb, "targets": targets})


def _earlier_frame(s: Any, name: str) -> Path | None:
    """The video (or picture) of the newest finished run of this workflow, if any."""
    for r in _results(s, name, 12):
        if r["status"] != "finished":
            continue
        for f in sorted(r["files"], key=lambda f: not f["file"].lower().endswith(".mp4")):
            path = s.outputs_dir.parent / f["file"]
            if path.suffix.lower() in (".mp4", ".png", ".jpg", ".jpeg") and path.is_file():
                return path
    return None


def _frame_thumbnail(made: Path, png: Path, doc: dict[str, Any], name: str, reg: Any) -> None:
    """The frame, small; a workflow whose output is one flat colour gets that colour as a
    card with what it does (a flat frame reads as a missing picture)."""
    from reelgraph.engine.workflow import atomic_write

    staged = png.with_suffix(".frame.png")
    shrink(made, staged)
    colour = flat_colour(staged)
    if colour is None:
        staged.replace(png)
    else:
        staged.unlink()
        atomic_write(png, flat_card(doc, name, reg, colour))


def _png(path: Path, how: str) -> web.FileResponse:
    return web.FileResponse(
        path,
        headers={"Cache-Control": "no-cache", "Content-Type": "image/png", "X-Thumbnail": how},
    )


async def get_thumbnail(request: web.Request) -> web.StreamResponse:
    """200 with a PNG: a frame of the workflow's output once its thumbnail run has made it
    (`X-Thumbnail: frame`), or a designed card saying why there is no frame (`card`: a model
    is needed, or the run could not be made). 202 while the run is queued or running. The
    run is made once and the PNG cached under the data folder's thumbnails/."""
    s = server_of(request)
    name = request.match_info["name"]
    path, kind = _find(s, name)
    doc, _ = await _load(s, name)
    png, marker = _thumb_paths(s, name, doc)
    if png.is_file():
        return _png(png, "frame")
    lock = _THUMB_LOCKS.setdefault(png.stem, asyncio.Lock())
    async with lock:
        if png.is_file():
            return _png(png, "frame")
        state = await asyncio.to_thread(_read_marker, marker)
        if state is None:
            reg = await s.registry()
            template = path if kind == "template" else None
            plan = await bounded(s, _plan_thumbnail, doc, reg, template)
            if plan.workflow is not None:
                state = {"run_id": _queue_thumbnail(s, name, plan.workflow)}
            else:
                state = plan.to_marker()
            await asyncio.to_thread(_write_json, marker, state)
        if state.get("run_id"):
            run_id = state["run_id"]
            row = s.store.get(run_id)
            status = row["status"] if row else None
            if status in ("queued", "running"):
                return web.json_response({"status": "making", "run_id": run_id}, status=202)
            made = made_picture(s.outputs_dir / run_id) if status == "finished" else None
            if made is not None:
                await asyncio.to_thread(_frame_thumbnail, made, png, doc, name, await s.registry())
                return _png(png, "frame")
            err = (row or {}).get("error")
            why = err.get("message") if isinstance(err, dict) else None
            state = {
                "card": "No preview",
                "lines": [f"The preview run {status or 'is gone'}" + (f": {why}" if why else "")],
            }
            await asyncio.to_thread(_write_json, marker, state)
        # a card, until this workflow has a finished run of its own to take a frame from
        earlier = await asyncio.to_thread(_earlier_frame, s, name)
        if earlier is not None:
            with contextlib.suppress(Exception):  # an unreadable video keeps the card
                await asyncio.to_thread(shrink, earlier, png, FRAME_AT_SECONDS)
                return _png(png, "frame")
        card = png.with_suffix(".card.png")
        if not card.is_file():
            plan = ThumbPlan(card=state.get("card"), lines=list(state.get("lines") or []))
            data = await asyncio.to_thread(draw_card, doc, name, plan)
            from reelgraph.engine.workflow import atomic_write

            await asyncio.to_thread(atomic_write, card, data)
        return _png(card, "card")


def _queue_thumbnail(s: Any, name: str, workflow: dict[str, Any]) -> str:
    """Queue the thumbnail run (runs a person queued go first: store.claim_next)."""
    targets = workflow.pop("targets")
    run_id = new_run_id()
    label = f"{THUMB_RUN_PREFIX}{name}"[:200]
    s.store.add(run_id, workflow, {}, targets, label)
    s.hub.publish(
        {
            "type": "run.queued",
            "run_id": run_id,
            "name": label,
            "position": s.store.queue_position(run_id),
            "time": time.time(),
        }
    )
    s.runner.wake()
    return run_id


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
    path, kind = _find(s, name)
    doc, _ = await _load(s, name)
    body = await read_json(request)
    params = body.get("params") if isinstance(body, dict) else None
    if not isinstance(params, dict):
        raise bad("body must be {'params': {name: value}}")
    reg = await s.registry()
    from reelgraph.engine import WorkflowError
    from reelgraph.engine.workflow import apply_params

    from .template_paths import own_params_resolved, with_template_paths

    template = path if kind == "template" else None
    params = own_params_resolved(doc, params, template)
    shipped = with_template_paths(parse_workflow_or_400(doc), template)
    thumb = await asyncio.to_thread(thumbnail_workflow, shipped.doc, reg)
    if thumb is None or gpu_nodes(doc, reg):
        raise bad("this workflow draws no picture that can be previewed without a model", 422)
    targets = thumb.pop("targets")
    wf = parse_workflow_or_400(thumb)
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
    made = made_picture(s.outputs_dir / run_id) if row["status"] == "finished" else None
    if made is None:
        err = row.get("error")
        message = err.get("message") if isinstance(err, dict) else f"the preview {row['status']}"
        return web.json_response({"status": row["status"], "error": message}, status=422)
    png.parent.mkdir(exist_ok=True)
    await asyncio.to_thread(shrink, made, png)
    return web.FileResponse(png, headers={"Content-Type": "image/png"})


class _Pipe:
    """A write-only, unseekable file whose bytes go to an asyncio queue in chunks of about
    CHUNK bytes, with back-pressure (the queue is small). Once the reader is gone (`close`),
    writes fail, so the writer stops instead of reading every file into the void."""

    CHUNK = 256 << 10

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None]):
        self.loop, self.queue = loop, queue
        self.buf = bytearray()
        self.gone = False

    def write(self, data: bytes) -> int:
        if self.gone:
            raise BrokenPipeError("the download was closed")
        self.buf += data
        if len(self.buf) >= self.CHUNK:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.buf and not self.gone:
            chunk, self.buf = bytes(self.buf), bytearray()
            asyncio.run_coroutine_threadsafe(self.queue.put(chunk), self.loop).result()

    def close(self) -> None:
        self.gone = True


def _manifest_csv(rows: list[dict[str, Any]], entries: dict[int, list[str]]) -> bytes:
    """batch.csv in the ZIP: one line per row with its status, files and error."""
    import csv
    import io

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["row", "stem", "status", "files", "error"])
    for r in rows:
        err = r.get("error")
        message = err.get("message") if isinstance(err, dict) else (err or "")
        w.writerow([r["row"], r["stem"], r["status"], " ".join(entries.get(r["row"], [])), message])
    return ("\ufeff" + out.getvalue()).encode()  # a BOM: spreadsheet programs read it as UTF-8


async def get_batch_zip(request: web.Request) -> web.StreamResponse:
    """Every file of every row of a batch as one ZIP, plus batch.csv (each row's status,
    files and error), streamed while it is written: nothing is built in memory or on disk,
    and memory stays at a few chunks whatever the batch's size."""
    import re
    import zipfile

    from .api_batches import _row_view, _store

    s = server_of(request)
    batch_id = request.match_info["batch_id"]
    store = _store(request)
    b = store.get(batch_id)
    if b is None:
        raise bad("no such batch", 404)
    files: list[tuple[Path, str]] = []
    views = [_row_view(s, r) for r in store.rows(batch_id)]
    entries: dict[int, list[str]] = {}
    for r in views:
        run_id = r.get("run_id")
        if not run_id or not re.fullmatch(r"[0-9a-f]{16}", run_id):
            continue
        folder = s.outputs_dir / run_id
        stem = re.sub(r"[^\w.-]+", "_", str(r["stem"]))[:80].strip("._") or f"row{r['row']}"
        for f in _run_files(s.outputs_dir, run_id):
            path = s.outputs_dir.parent / f["file"]
            if path.is_file() and folder in path.parents:
                arc = f"{int(r['row']):04d}-{stem}/{path.relative_to(folder).as_posix()}"
                files.append((path, arc))
                entries.setdefault(r["row"], []).append(arc)
    if not files:
        raise bad("no row of this batch has made a file yet", 404)
    manifest = _manifest_csv(views, entries)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=8)
    pipe = _Pipe(loop, queue)

    def produce() -> None:
        try:
            # stored, not deflated: videos are compressed already; unseekable: data descriptors
            with zipfile.ZipFile(pipe, "w", zipfile.ZIP_STORED) as z:  # type: ignore[arg-type]
                z.writestr("batch.csv", manifest)
                for path, arc in files:
                    z.write(path, arc)
            pipe.flush()
        finally:
            if not pipe.gone:
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
        # a client that went away: the writer's next write fails, so it stops; a put it
        # is blocked in is let through
        pipe.close()
        while not task.done():
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
            await asyncio.sleep(0.01)
        with contextlib.suppress(BaseException):
            task.exception()  # retrieved here, so a closed download logs no stray error
    await task
    await resp.write_eof()
    return resp


def add_batch_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/app/{name}/sheet", post_sheet)
    r.add_post("/api/app/{name}/still", post_still)
    r.add_get("/api/app/stills/{run_id}", get_still)
    r.add_get("/api/app/batches/{batch_id}/zip", get_batch_zip)
