"""Batches over HTTP: a workflow plus rows (JSON, or an uploaded CSV / TSV / JSONL / XLSX).

Every row is checked first (the engine's batch validation: columns, types, widget
bounds, options); each valid row then becomes an ordinary run in the server's run
queue, named after its stem, so rows execute in the server's workers and share its
cache. The batch and the run id of each row live in two tables of their own in the
server's SQLite database, so a batch survives a restart like its runs do. A small
watcher follows the rows' runs and publishes `batch.row` events on the WebSocket
(and `batch.finished` once every row is over). See docs/api.md.

    POST   /api/batches            create (202), or 400 with every problem
    GET    /api/batches            list, newest first
    GET    /api/batches/{id}       one batch, per-row status and outputs
    DELETE /api/batches/{id}       cancel what has not finished
    POST   /api/batches/{id}/retry run the failed and cancelled rows again (202)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .common import bad, error, int_query, json_caps, parse_capped, read_json
from .runner import new_run_id
from .state import SERVER_KEY, server_of
from .store import FINAL

WATCH_SECONDS = 0.5
ROW_FINAL = (*FINAL, "invalid")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    created REAL NOT NULL,
    ended REAL,
    workflow_name TEXT NOT NULL DEFAULT '',
    name_template TEXT NOT NULL DEFAULT '',
    problems TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS batch_rows (
    batch_id TEXT NOT NULL,
    row INTEGER NOT NULL,
    line INTEGER,
    stem TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    run_id TEXT,
    status TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (batch_id, row)
);
CREATE INDEX IF NOT EXISTS batch_rows_run ON batch_rows(run_id);
"""


class BatchStore:
    """The two batch tables, in the server's database file (own connection, own lock)."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=30
        )
        self.db.row_factory = sqlite3.Row
        self.lock = threading.Lock()
        with self.lock:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(_SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.db.execute(sql, args).fetchall()]

    def create(self, batch: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute(
                    "INSERT INTO batches (id, name, status, created, workflow_name, name_template,"
                    " problems) VALUES (?, ?, 'running', ?, ?, ?, ?)",
                    (
                        batch["id"],
                        batch["name"],
                        time.time(),
                        batch["workflow_name"],
                        batch["name_template"],
                        json.dumps(batch["problems"]),
                    ),
                )
                self.db.executemany(
                    "INSERT INTO batch_rows (batch_id, row, line, stem, params, run_id, status, error)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            batch["id"],
                            r["row"],
                            r["line"],
                            r["stem"],
                            json.dumps(r["params"]),
                            r["run_id"],
                            r["status"],
                            json.dumps(r["error"]) if r.get("error") else None,
                        )
                        for r in rows
                    ],
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def get(self, batch_id: str) -> dict[str, Any] | None:
        found = self._all("SELECT * FROM batches WHERE id = ?", (batch_id,))
        return found[0] if found else None

    def rows(self, batch_id: str) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM batch_rows WHERE batch_id = ? ORDER BY row", (batch_id,))

    def page(self, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        total = self._all("SELECT COUNT(*) AS n FROM batches")[0]["n"]
        return self._all(
            "SELECT * FROM batches ORDER BY seq DESC LIMIT ? OFFSET ?", (limit, offset)
        ), int(total)

    def counts(self, batch_id: str) -> dict[str, int]:
        out = dict.fromkeys(("queued", "running", *ROW_FINAL), 0)
        for r in self._all(
            "SELECT status, COUNT(*) AS n FROM batch_rows WHERE batch_id = ? GROUP BY status",
            (batch_id,),
        ):
            out[r["status"]] = int(r["n"])
        return out

    def open_rows(self) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(ROW_FINAL))
        return self._all(
            f"SELECT batch_id, row, stem, run_id, status FROM batch_rows WHERE status NOT IN ({marks})",
            ROW_FINAL,
        )

    def set_row(self, batch_id: str, row: int, status: str) -> None:
        with self.lock:
            self.db.execute(
                "UPDATE batch_rows SET status = ? WHERE batch_id = ? AND row = ?",
                (status, batch_id, row),
            )

    def requeue_row(self, batch_id: str, row: int, run_id: str) -> None:
        """Give a row a new run (a retry) and open its batch again."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute(
                    "UPDATE batch_rows SET run_id = ?, status = 'queued', error = NULL"
                    " WHERE batch_id = ? AND row = ?",
                    (run_id, batch_id, row),
                )
                self.db.execute(
                    "UPDATE batches SET status = 'running', ended = NULL WHERE id = ?", (batch_id,)
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def set_status(self, batch_id: str, status: str) -> None:
        with self.lock:
            self.db.execute(
                "UPDATE batches SET status = ?, ended = ? WHERE id = ?",
                (status, time.time() if status != "running" else None, batch_id),
            )


BATCHES_KEY: web.AppKey[BatchStore] = web.AppKey("reelgraph_batches", BatchStore)


def _store(request: web.Request) -> BatchStore:
    return request.app[BATCHES_KEY]


# -- reading a request ------------------------------------------------------------


async def _form_parts(request: web.Request) -> list[tuple[str, str | None, bytes]]:
    out = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        data = await part.read(decode=False)  # type: ignore[union-attr]
        out.append(
            (getattr(part, "name", None) or "", getattr(part, "filename", None), bytes(data))
        )
    return out


async def _read_request(request: web.Request) -> dict[str, Any]:
    """JSON {"workflow", "rows": [...], ...} or multipart fields with a "rows" file."""
    if request.content_type.startswith("multipart/"):
        body: dict[str, Any] = {}
        limit = request.app[SERVER_KEY].config.max_upload
        if (request.content_length or 0) > limit:
            raise bad(f"the form is larger than {limit >> 20} MiB", 413)
        try:
            parts = await _form_parts(request)
        except (HttpProcessingError, ValueError, AssertionError, UnicodeError) as exc:
            raise bad(f"not a readable multipart form: {exc}") from None
        for name, filename, data in parts:
            if len(data) > limit:
                raise bad(f"field {name!r} is larger than {limit >> 20} MiB", 413)
            if name == "rows":
                body["rows_file"] = (filename or "rows.csv", data)
            elif name == "workflow":
                text = bytes(data).decode("utf-8", "replace").strip()
                caps = json_caps(request.app[SERVER_KEY].config)
                # the same caps as a JSON body: a form field is no way around them
                body["workflow"] = parse_capped(text.encode(), caps) if text[:1] == "{" else text
            elif name in ("name", "name_template", "ignore_unknown_columns"):
                body[name] = bytes(data).decode("utf-8", "replace")
            else:
                raise bad(f"unknown form field {name!r}")
        if "ignore_unknown_columns" in body:
            body["ignore_unknown_columns"] = body["ignore_unknown_columns"].lower() in (
                "1",
                "true",
                "yes",
                "on",
            )
        return body
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad(
            'body must be an object: {"workflow": {...} | "saved name", "rows": [{...}, ...]}'
        )
    unknown = set(body) - {"workflow", "rows", "name", "name_template", "ignore_unknown_columns"}
    if unknown:
        raise bad(f"unknown field(s): {', '.join(sorted(unknown))}")
    return body


async def _workflow_of(request: web.Request, doc: Any) -> tuple[Any, Path | None]:
    """The workflow, and the template file it came from (None: a body or a saved one), so
    that a template's relative asset paths resolve beside it as they do for one run."""
    from .api_workflows import parse_workflow_or_400, workflow_file

    s = server_of(request)
    template = None
    if isinstance(doc, str):
        path = None
        for folder in (s.workflows_dir, s.config.templates_dir):
            with contextlib.suppress(web.HTTPNotFound):
                path = workflow_file(folder, doc)
                template = path if folder == s.config.templates_dir else None
                break
        if path is None:
            raise bad(f"no saved workflow or template named {doc!r}", 404)
        try:
            raw = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise bad(f"cannot read workflow: {exc}") from None
        doc = parse_capped(raw, json_caps(s.config))  # a file gets the caps of a body
    if not isinstance(doc, dict):
        raise bad("'workflow' must be a workflow object or the name of a saved workflow")
    return parse_workflow_or_400(doc, caps=json_caps(s.config)), template


def _rows_of(body: dict[str, Any]) -> Any:
    from reelgraph.engine.batch import RowsError, parse_rows, rows_from_dicts

    try:
        if "rows_file" in body:
            filename, data = body["rows_file"]
            return parse_rows(data, Path(str(filename)).name)
        rows = body.get("rows")
        if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
            raise bad(
                "'rows' must be a non-empty list of objects (column -> value), or upload a file"
            )
        return rows_from_dicts(rows, "rows")
    except RowsError as exc:
        raise bad(str(exc)) from None


# -- routes -----------------------------------------------------------------------


async def post_batch(request: web.Request) -> web.Response:
    from reelgraph.engine.batch import BatchError, prepare

    s = server_of(request)
    body = await _read_request(request)
    if "workflow" not in body:
        raise bad("'workflow' is required (a workflow object or a saved workflow's name)")
    wf, template_path = await _workflow_of(request, body["workflow"])
    rows = _rows_of(body)
    if template_path is not None:
        from .template_paths import own_params_resolved, with_template_paths

        for row in rows.rows:
            row.values = own_params_resolved(wf.doc, row.values, template_path)
        wf = with_template_paths(wf, template_path)
    template = body.get("name_template") or None
    if template is not None and not isinstance(template, str):
        raise bad("'name_template' must be a string such as '{name}-{city}'")
    registry = await s.registry()
    batch_id = uuid.uuid4().hex[:12]
    scratch = s.outputs_dir / ".batches" / batch_id  # never written: stems are checked against it
    try:
        plan = await asyncio.to_thread(
            prepare,
            wf,
            rows,
            scratch,
            registry,
            name_template=template,
            ignore_unknown_columns=bool(body.get("ignore_unknown_columns")),
        )
    except BatchError as exc:
        return error(400, "the batch cannot start", problems=[p.to_dict() for p in exc.problems])
    problems = [p.to_dict() for p in plan.problems]
    if not plan.valid_rows:
        return error(400, "no row is valid", problems=problems)
    name = body.get("name") if isinstance(body.get("name"), str) else wf.name
    records = []
    for e in plan.entries.values():
        run_id = new_run_id() if e.valid else None
        records.append(
            {
                "row": e.number,
                "line": e.line,
                "stem": e.stem,
                "params": e.params,
                "run_id": run_id,
                "status": "queued" if e.valid else "invalid",
                "error": e.error if not e.valid else None,
            }
        )
    # The batch first, then its runs: a restart in between leaves rows that the
    # watcher sees as missing runs (failed), never runs that belong to no batch.
    _store(request).create(
        {
            "id": batch_id,
            "name": str(name)[:200],
            "workflow_name": wf.name,
            "name_template": plan.name_template,
            "problems": problems,
        },
        records,
    )
    for r in records:
        if r["run_id"] is not None:
            s.store.add(r["run_id"], wf.doc, r["params"], None, f"{name} · {r['stem']}"[:200])
    s.hub.publish(
        {
            "type": "batch.queued",
            "batch_id": batch_id,
            "rows": len(records),
            "valid": len(plan.valid_rows),
            "time": time.time(),
        }
    )
    s.runner.wake()
    return web.json_response(
        {
            "batch_id": batch_id,
            "status": "running",
            "rows": len(records),
            "valid": len(plan.valid_rows),
            "invalid": len(records) - len(plan.valid_rows),
            "problems": problems,
            "url": f"/api/batches/{batch_id}",
        },
        status=202,
    )


def _files(outputs: Any) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    stack = [outputs]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if isinstance(v.get("file"), str) and isinstance(v.get("url"), str):
                found.append({"file": v["file"], "url": v["url"]})
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return sorted(found, key=lambda f: f["file"])


def _row_view(s: Any, r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "row": r["row"],
        "line": r["line"],
        "stem": r["stem"],
        "status": r["status"],
        "params": json.loads(r["params"] or "{}"),
        "run_id": r["run_id"],
        "error": json.loads(r["error"]) if r["error"] else None,
        "files": [],
    }
    if r["run_id"]:
        run = s.store.get(r["run_id"])
        out["url"] = f"/api/runs/{r['run_id']}"
        if run is not None:
            out["status"] = run["status"]
            out["files"] = _files(run.get("outputs"))
            out["summary"] = run.get("summary") or {}
            if run.get("error"):
                err = run["error"]
                out["error"] = {
                    k: err[k] for k in ("message", "node_id") if isinstance(err, dict) and k in err
                }
    return out


def _batch_view(store: BatchStore, b: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": b["id"],
        "name": b["name"],
        "status": b["status"],
        "created": b["created"],
        "ended": b["ended"],
        "workflow_name": b["workflow_name"],
        "name_template": b["name_template"],
        "counts": store.counts(b["id"]),
        "url": f"/api/batches/{b['id']}",
    }


async def list_batches(request: web.Request) -> web.Response:
    store = _store(request)
    limit = int_query(request, "limit", 50, 1, 500)
    offset = int_query(request, "offset", 0, 0, 10**9)
    items, total = store.page(limit, offset)
    return web.json_response(
        {
            "batches": [_batch_view(store, b) for b in items],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
    )


async def get_batch(request: web.Request) -> web.Response:
    store = _store(request)
    b = store.get(request.match_info["batch_id"])
    if b is None:
        return error(404, "no such batch")
    s = server_of(request)
    return web.json_response(
        {
            **_batch_view(store, b),
            "problems": json.loads(b["problems"] or "[]"),
            "rows": [_row_view(s, r) for r in store.rows(b["id"])],
        }
    )


async def cancel_batch(request: web.Request) -> web.Response:
    store = _store(request)
    s = server_of(request)
    b = store.get(request.match_info["batch_id"])
    if b is None:
        return error(404, "no such batch")
    if b["status"] != "running":
        return error(409, f"the batch is already {b['status']}")
    store.set_status(b["id"], "cancelled")
    stopped = 0
    for r in store.rows(b["id"]):
        run_id = r["run_id"]
        if not run_id:
            continue
        running = s.store.status_of(run_id) == "running"
        if s.store.cancel_queued(run_id) or (running and s.runner.cancel_running(run_id)):
            stopped += 1
    s.hub.publish(
        {"type": "batch.cancelled", "batch_id": b["id"], "stopped": stopped, "time": time.time()}
    )
    return web.json_response({"batch_id": b["id"], "status": "cancelled", "stopped": stopped})


RETRYABLE = ("failed", "cancelled")


async def retry_batch(request: web.Request) -> web.Response:
    """Run the failed and cancelled rows of a batch again, each as a new run of the same
    workflow and params, in the same batch (so its grid and ZIP stay one). Rows that were
    not valid are not retried: their cells need fixing first."""
    store = _store(request)
    s = server_of(request)
    b = store.get(request.match_info["batch_id"])
    if b is None:
        return error(404, "no such batch")
    again = []
    for r in store.rows(b["id"]):
        run = s.store.get(r["run_id"]) if r["run_id"] else None
        if r["status"] == "invalid" or (run is not None and run["status"] not in RETRYABLE):
            continue
        if run is None and r["status"] not in RETRYABLE:
            continue
        again.append((r, run))
    if not again:
        return error(409, "no failed or cancelled row to retry")
    retried = []
    for r, run in again:
        doc = run["workflow"] if run is not None else None
        if not isinstance(doc, dict):
            continue  # its run is gone with its workflow: nothing to run it from
        run_id = new_run_id()
        params = json.loads(r["params"] or "{}")
        s.store.add(run_id, doc, params, None, f"{b['name']} · {r['stem']}"[:200])
        store.requeue_row(b["id"], r["row"], run_id)
        retried.append({"row": r["row"], "run_id": run_id})
    if not retried:
        return error(409, "the failed rows' runs are gone: start a new batch")
    s.hub.publish(
        {"type": "batch.retried", "batch_id": b["id"], "rows": retried, "time": time.time()}
    )
    s.runner.wake()
    return web.json_response(
        {"batch_id": b["id"], "status": "running", "retried": retried}, status=202
    )


# -- following the rows' runs ---------------------------------------------------------


async def _watch(app: web.Application) -> None:
    """Publish a `batch.row` event whenever a row's run changes state; close batches
    whose rows are all over. Reads only the run store, so it follows rows whichever
    worker runs them, and picks up where it was after a restart."""
    s = app[SERVER_KEY]
    store = app[BATCHES_KEY]
    while True:
        await asyncio.sleep(WATCH_SECONDS)
        try:
            touched: set[str] = set()
            for r in store.open_rows():
                status = s.store.status_of(r["run_id"]) if r["run_id"] else None
                status = status or "failed"  # a run that is gone cannot finish any more
                if status == r["status"]:
                    continue
                store.set_row(r["batch_id"], r["row"], status)
                touched.add(r["batch_id"])
                s.hub.publish(
                    {
                        "type": "batch.row",
                        "batch_id": r["batch_id"],
                        "row": r["row"],
                        "stem": r["stem"],
                        "run_id": r["run_id"],
                        "status": status,
                        "time": time.time(),
                    }
                )
            for batch_id in touched:
                b = store.get(batch_id)
                counts = store.counts(batch_id)
                if b is None or counts["queued"] or counts["running"]:
                    continue
                final = "cancelled" if b["status"] == "cancelled" else "finished"
                store.set_status(batch_id, final)
                s.hub.publish(
                    {
                        "type": "batch.finished",
                        "batch_id": batch_id,
                        "status": final,
                        "counts": counts,
                        "time": time.time(),
                    }
                )
        except asyncio.CancelledError:
            raise
        except Exception:  # a locked database for a moment: try again next round
            continue


def setup(app: web.Application) -> None:
    """Routes and the watcher; call before the /api catch-all route is added."""
    server = app[SERVER_KEY]
    app[BATCHES_KEY] = BatchStore(server.store.path)
    r = app.router
    r.add_post("/api/batches", post_batch)
    r.add_get("/api/batches", list_batches)
    r.add_get("/api/batches/{batch_id}", get_batch)
    r.add_delete("/api/batches/{batch_id}", cancel_batch)
    r.add_post("/api/batches/{batch_id}/retry", retry_batch)

    async def start(app: web.Application) -> Any:
        task = asyncio.get_running_loop().create_task(_watch(app))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        app[BATCHES_KEY].close()

    app.cleanup_ctx.append(start)
