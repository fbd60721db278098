"""Workflows stored as files in the user folder, and the shipped templates."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from pathlib import Path
from typing import Any

from aiohttp import web

from .common import JsonCaps, bad, bounded, cap_refusal, issues_answer, json_caps, read_json
from .paths import UnsafePath, read_file, remove_file, safe_join, write_file
from .state import server_of

WORKFLOW_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,99}$")
_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}


def check_workflow_name(name: str) -> str:
    if (
        not WORKFLOW_NAME.match(name)
        or ".." in name
        or name.endswith((".", " "))
        or name.split(".")[0].strip().lower() in _WINDOWS_RESERVED
    ):
        raise bad(
            "workflow names are 1-100 letters, digits, spaces, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return name.removesuffix(".json")


def _listing(folder: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if not folder.is_dir() or folder.is_symlink():
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
                    info["description"] = (
                        doc.get("description") if isinstance(doc.get("description"), str) else None
                    )
                    if isinstance(doc.get("params"), dict):
                        info["params"] = sorted(doc["params"])
        out.append(info)
    return out


async def list_workflows(request: web.Request) -> web.Response:
    s = server_of(request)
    mine, shipped = await asyncio.gather(
        asyncio.to_thread(_listing, s.workflows_dir),
        asyncio.to_thread(_listing, s.config.templates_dir),
    )
    return web.json_response({"workflows": mine, "templates": shipped})


def workflow_file(folder: Path, name: str) -> Path:
    name = check_workflow_name(name)
    try:
        return safe_join(folder, f"{name}.json")
    except FileNotFoundError:
        raise bad(f"no workflow named {name!r}", 404) from None
    except UnsafePath as exc:
        raise bad(f"bad workflow name: {exc}") from None


def read_saved(folder: Path, name: str) -> bytes:
    """A saved workflow's bytes; no symlink followed (404 / 400 as HTTP errors)."""
    name = check_workflow_name(name)
    try:
        return read_file(folder, f"{name}.json")
    except FileNotFoundError:
        raise bad(f"no workflow named {name!r}", 404) from None
    except UnsafePath as exc:
        raise bad(f"refused: {exc}") from None


async def get_workflow(request: web.Request) -> web.StreamResponse:
    s = server_of(request)
    body = await asyncio.to_thread(read_saved, s.workflows_dir, request.match_info["name"])
    return web.Response(body=body, content_type="application/json")


async def get_template(request: web.Request) -> web.StreamResponse:
    s = server_of(request)
    path = workflow_file(s.config.templates_dir, request.match_info["name"])
    return web.Response(
        body=await asyncio.to_thread(_template_with_paths, path), content_type="application/json"
    )


def _template_with_paths(path: Any) -> bytes:
    """A template with its relative asset paths made absolute (they lie beside the file),
    so the editor's copy runs from any data folder; a document that does not parse is
    served as it is, for the editor to report."""

    from reelgraph.engine.docpaths import resolve_document_paths
    from reelgraph.engine.workflow import Workflow

    raw = path.read_bytes()
    try:
        doc = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(doc, dict):
        return raw
    resolved = resolve_document_paths(Workflow(doc, str(path)))
    return raw if resolved.doc is doc else json.dumps(resolved.doc, ensure_ascii=False).encode()


def parse_workflow_or_400(doc: Any, *, caps: JsonCaps | None = None) -> Any:
    """Shape check + migration; structural problems -> 400 listing them. `caps`: the caps
    the document was parsed under (`read_json`); when they are within the engine's, its
    values are not walked a second time."""
    from reelgraph.engine import WorkflowError
    from reelgraph.engine.workflow import DEFAULT_LIMITS, parse_workflow

    within = caps is not None and caps.within(DEFAULT_LIMITS)
    try:
        return parse_workflow(doc, within_limits=within)
    except WorkflowError as exc:
        raise cap_refusal(exc.issues) or bad(
            "invalid workflow", **issues_answer(exc.issues)
        ) from None


async def put_workflow(request: web.Request) -> web.Response:
    s = server_of(request)
    name = check_workflow_name(request.match_info["name"])
    doc = await read_json(request)
    wf = await bounded(s, lambda: parse_workflow_or_400(doc, caps=json_caps(s.config)))
    reg = await s.registry()
    from reelgraph.engine import validate_workflow

    issues = issues_answer(await bounded(s, validate_workflow, wf, reg))
    data = await bounded(s, lambda: wf.to_json().encode())
    created = await asyncio.to_thread(_save_with_backup, s.workflows_dir, name, data)
    return web.json_response(
        {"name": name, "saved": True, **issues}, status=201 if created else 200
    )


def _save_with_backup(folder: Path, name: str, data: bytes) -> bool:
    """Atomic write; the version it replaces goes to .backups/<name>.json. True if new.
    No symlink is followed: not at the name, not at .backups, not on the way."""
    try:
        try:
            old: bytes | None = read_file(folder, f"{name}.json")
        except FileNotFoundError:
            old = None
        if old is not None:
            write_file(folder, f".backups/{name}.json", old)
        write_file(folder, f"{name}.json", data)
    except UnsafePath as exc:
        raise bad(f"refused: {exc}") from None
    return old is None


async def delete_workflow(request: web.Request) -> web.Response:
    s = server_of(request)
    name = check_workflow_name(request.match_info["name"])

    def move() -> None:
        # Deleting keeps the last version as the backup: nothing a user saved is lost for good.
        old = read_saved(s.workflows_dir, name)
        try:
            write_file(s.workflows_dir, f".backups/{name}.json", old)
            remove_file(s.workflows_dir, f"{name}.json")
        except UnsafePath as exc:
            raise bad(f"refused: {exc}") from None

    await asyncio.to_thread(move)
    return web.json_response({"name": name, "deleted": True})


def _validate_doc(doc: Any, registry: Any, caps: JsonCaps) -> list[Any]:
    from reelgraph.engine import WorkflowError, validate_workflow
    from reelgraph.engine.workflow import DEFAULT_LIMITS, parse_workflow

    try:
        wf = parse_workflow(doc, within_limits=caps.within(DEFAULT_LIMITS))
    except WorkflowError as exc:
        refusal = cap_refusal(exc.issues)
        if refusal is not None:
            raise refusal from None
        return exc.issues
    return validate_workflow(wf, registry)


async def validate_workflow_route(request: web.Request) -> web.Response:
    s = server_of(request)
    doc = await read_json(request)
    reg = await s.registry()
    issues = await bounded(s, _validate_doc, doc, reg, json_caps(s.config))
    ok = not any(i.severity == "error" for i in issues)
    answer = await bounded(s, issues_answer, issues)
    return web.json_response({"ok": ok, **answer})
