"""Runs: queue, history, per-run state, cancel and delete."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from .api_workflows import parse_workflow_or_400, read_saved, workflow_file
from .common import (
    bad,
    bounded,
    error,
    int_query,
    issues_answer,
    json_caps,
    parse_capped,
    read_json,
)
from .state import server_of
from .store import FINAL, STATUSES


def _plan_check(
    wf: Any,
    registry: Any,
    params: dict[str, Any],
    targets: list[str] | None,
    confine: list[Path] | None,
) -> list[Any]:
    from reelgraph.engine import WorkflowError
    from reelgraph.engine.graph import plan_run

    plan = plan_run(wf, registry, params=params, targets=targets)
    if confine:
        from .confine import outside_roots

        issues = outside_roots(plan, confine)
        if issues:
            raise WorkflowError(issues)
    return plan.warnings


async def post_run(request: web.Request) -> web.Response:
    s = server_of(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad(
            'body must be an object: {"workflow": {...} | "saved name", "params": {...}, "targets": [...]}'
        )
    unknown = set(body) - {"workflow", "params", "targets", "name", "limits"}
    if unknown:
        raise bad(f"unknown field(s): {', '.join(sorted(unknown))}")
    params = body.get("params")
    params = {} if params is None else params
    targets = body.get("targets")
    if not isinstance(params, dict):
        raise bad("'params' must be an object of param name -> value")
    if targets is not None and (
        not isinstance(targets, list) or not all(isinstance(t, str) for t in targets)
    ):
        raise bad("'targets' must be a list of node ids, or null for all output nodes")
    doc = body.get("workflow")
    source = None
    template_path = None  # relative asset paths in a template resolve beside its file
    if isinstance(doc, str):
        source = doc
        raw = None
        with contextlib.suppress(web.HTTPNotFound):
            raw = await asyncio.to_thread(read_saved, s.workflows_dir, doc)
        if raw is None:
            with contextlib.suppress(web.HTTPNotFound):
                path = workflow_file(s.config.templates_dir, doc)
                raw = await asyncio.to_thread(path.read_bytes)
                template_path = path
        if raw is None:
            raise bad(f"no saved workflow or template named {doc!r}", 404)
        try:
            doc = parse_capped(raw, json_caps(s.config))
        except web.HTTPException:
            raise
        except (OSError, ValueError) as exc:
            raise bad(f"cannot read workflow {source!r}: {exc}") from None
    if not isinstance(doc, dict):
        raise bad("'workflow' must be a workflow object or the name of a saved workflow")
    try:
        limits = s.config.limits.narrowed(body.get("limits"))
    except ValueError as exc:
        raise bad(str(exc)) from None
    wf = await bounded(s, lambda: parse_workflow_or_400(doc, caps=json_caps(s.config)))
    if template_path is not None:
        from .template_paths import own_params_resolved, with_template_paths

        params = own_params_resolved(wf.doc, params, template_path)
        wf = with_template_paths(wf, template_path)
    reg = await s.registry()
    from reelgraph.engine import WorkflowError

    confine = s.loader_roots() if s.config.confine_loaders else None
    try:
        warnings = await bounded(s, _plan_check, wf, reg, params, targets, confine)
    except WorkflowError as exc:
        answer = await bounded(s, issues_answer, exc.issues)
        return error(400, "the workflow cannot run", **answer)
    name = body.get("name") if isinstance(body.get("name"), str) else (source or wf.name)
    try:
        run_id, position = await asyncio.to_thread(
            s.submit_run, wf.doc, params, targets, str(name)[:200], limits
        )
    except (sqlite3.Error, OSError) as exc:
        problem = s.runner.store_failed(exc)
        return error(503, f"runs cannot be stored now: {problem}", reason=problem)
    return web.json_response(
        {
            "run_id": run_id,
            "status": "queued",
            "position": position,
            "warnings": [w.to_dict() for w in warnings],
            "url": f"/api/runs/{run_id}",
        },
        status=202,
    )


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    err = row.get("error")
    return {
        "id": row["id"],
        "status": row["status"],
        "name": row["name"],
        "created": row["created"],
        "started": row["started"],
        "ended": row["ended"],
        "attempts": row["attempts"],
        "crashes": row.get("crashes") or 0,
        "summary": row.get("summary") or {},
        "error": err.get("message") if isinstance(err, dict) else None,
    }


async def list_runs(request: web.Request) -> web.Response:
    s = server_of(request)
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        raise bad(f"query 'status' must be one of {', '.join(STATUSES)}")
    limit = int_query(request, "limit", 50, 1, 500)
    offset = int_query(request, "offset", 0, 0, 1 << 40)
    order = request.query.get("order", "newest")
    if order not in ("newest", "oldest"):
        raise bad("query 'order' must be 'newest' or 'oldest'")
    rows, total = s.store.page(
        status=status, limit=limit, offset=offset, oldest_first=order == "oldest"
    )
    live = s.runner.live
    return web.json_response(
        {
            "runs": [_summary(r) for r in rows],
            "total": total,
            "limit": limit,
            "offset": offset,
            "next_offset": offset + len(rows) if offset + len(rows) < total else None,
            "counts": s.store.counts(),
            "running": live.run_id if live else None,
        }
    )


async def get_run(request: web.Request) -> web.Response:
    s = server_of(request)
    row = s.store.get(request.match_info["run_id"])
    if row is None:
        raise bad("no such run", 404)
    out = _summary(row)
    live = s.runner.live_runs().get(row["id"])
    nodes = row["nodes"] or {}
    if row["status"] == "running" and live is not None:
        nodes = live.snapshot()
        out["cancel_requested"] = bool(nodes.pop("__run__", {}).get("cancel_requested"))
    wf_nodes = (row["workflow"] or {}).get("nodes") or {}
    default = "pending" if row["status"] in ("queued", "running") else "not_run"
    out["nodes"] = {
        nid: {
            "type": (entry or {}).get("type") if isinstance(entry, dict) else None,
            "state": default,
            **nodes.get(nid, {}),
        }
        for nid, entry in wf_nodes.items()
    }
    out.update(
        params=row["params"],
        targets=row["targets"],
        outputs=row["outputs"],
        error=row["error"],
        warnings=row["warnings"],
        limits=row.get("limits"),
        workflow=row["workflow"],
    )
    if row["status"] == "queued":
        out["position"] = s.store.queue_position(row["id"])
    out["files"] = (
        await asyncio.to_thread(_run_files, s.outputs_dir, row["id"])
        if row["status"] in FINAL
        else []
    )
    return web.json_response(out)


def _run_files(outputs: Path, run_id: str) -> list[dict[str, Any]]:
    """Every file in the run's output folder (including ones no output node reported)."""
    folder = outputs / run_id
    if not re.fullmatch(r"[0-9a-f]{16}", run_id) or not folder.is_dir() or folder.is_symlink():
        return []
    found = []
    for dirpath, dirs, files in os.walk(folder):  # symlinked folders are not walked into
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            p = Path(dirpath) / name
            if name.startswith(".") or p.is_symlink() or not p.is_file():
                continue
            rel = f"outputs/{run_id}/{p.relative_to(folder).as_posix()}"
            found.append({"file": rel, "url": f"/api/files/{quote(rel)}", "size": p.stat().st_size})
    return found


async def cancel_run(request: web.Request) -> web.Response:
    s = server_of(request)
    run_id = request.match_info["run_id"]
    if s.store.cancel_queued(run_id):
        s.hub.publish(
            {
                "type": "run.cancelled",
                "run_id": run_id,
                "status": "cancelled",
                "before_start": True,
                "time": time.time(),
            }
        )
        return web.json_response({"run_id": run_id, "status": "cancelled"})
    if s.runner.cancel_running(run_id):
        return web.json_response({"run_id": run_id, "status": "cancelling"}, status=202)
    status = s.store.status_of(run_id)
    if status is None:
        raise bad("no such run", 404)
    raise bad(
        f"run is {status}: only queued or running runs can be cancelled", 409, run_status=status
    )


async def delete_run(request: web.Request) -> web.Response:
    s = server_of(request)
    run_id = request.match_info["run_id"]
    status = s.store.status_of(run_id)
    if status is None:
        raise bad("no such run", 404)
    if status not in FINAL:
        # Deleting a queued or running run cancels it first (a running one is stopped,
        # its worker killed after the grace period), then deletes it.
        if not s.store.cancel_queued(run_id):
            s.runner.cancel_running(run_id)
        deadline = time.monotonic() + s.config.cancel_grace_s + 5.0
        while (status := s.store.status_of(run_id)) not in FINAL:
            if status is None:
                raise bad("no such run", 404)
            if time.monotonic() > deadline:
                raise bad(f"run is {status}: it did not stop in time", 409, run_status=status)
            await asyncio.sleep(0.05)
    if not s.store.delete(run_id):
        raise bad(f"run is {status}: cancel it first", 409, run_status=status)
    folder = s.outputs_dir / run_id
    if re.fullmatch(r"[0-9a-f]{16}", run_id) and folder.is_dir() and not folder.is_symlink():
        import shutil

        await asyncio.to_thread(shutil.rmtree, folder, True)
    s.hub.publish({"type": "run.deleted", "run_id": run_id, "time": time.time()})
    return web.json_response({"run_id": run_id, "deleted": True})
