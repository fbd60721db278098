"""Output and uploaded files (with Range requests), uploads, and the static editor."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .common import bad
from .media import mime_for, sniff
from .paths import O_NOFOLLOW, UnsafePath, open_folder, safe_join
from .state import server_of

FILE_KINDS = ("outputs", "uploads")


def _file_response(path: Path) -> web.StreamResponse:
    # FileResponse answers Range / If-Range / HEAD itself (206, 416), so videos seek.
    return web.FileResponse(
        path,
        headers={
            "Content-Type": mime_for(path.name),
            "Content-Security-Policy": "default-src 'none'; media-src 'self'; img-src 'self'; sandbox",
            "Cache-Control": "no-cache",
        },
    )


async def get_file(request: web.Request) -> web.StreamResponse:
    s = server_of(request)
    kind = request.match_info["kind"]
    if kind not in FILE_KINDS:
        raise bad(f"file kind must be one of {', '.join(FILE_KINDS)}", 404)
    root = s.outputs_dir if kind == "outputs" else s.uploads_dir
    try:
        path = await asyncio.to_thread(safe_join, root, request.match_info["path"])
    except FileNotFoundError:
        raise bad("no such file", 404) from None
    except UnsafePath as exc:
        raise bad(f"refused path: {exc}") from None
    if not path.is_file():
        raise bad("no such file", 404)
    return _file_response(path)


async def list_uploads(request: web.Request) -> web.Response:
    s = server_of(request)

    def scan() -> list[dict[str, Any]]:
        out = []
        if s.uploads_dir.is_symlink():
            return out
        for p in sorted(s.uploads_dir.iterdir()):
            if p.name.startswith(".") or p.is_symlink() or not p.is_file():
                continue
            mime = mime_for(p.name)
            out.append(
                {
                    "name": p.name,
                    "kind": mime.split("/")[0],
                    "mime": mime,
                    "size": p.stat().st_size,
                    "path": str(p),
                    "url": f"/api/files/uploads/{p.name}",
                }
            )
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
        raise bad(f"upload larger than the {cap} byte limit", 413)
    ctype = request.content_type
    filename: str | None
    if ctype == "multipart/form-data":
        try:
            reader = await request.multipart()
            part = await reader.next()
            while part is not None and getattr(part, "name", None) != "file":
                part = await reader.next()
        except (ValueError, AssertionError, KeyError, HttpProcessingError) as exc:
            raise bad(f"bad multipart body: {exc}") from None
        if part is None or not hasattr(part, "read_chunk"):
            raise bad('multipart upload needs a file field named "file"')
        filename = part.filename
        source = part
    else:
        filename = request.query.get("filename")
        source = request.content
    # The folder is opened without following symlinks; the file is made in it by descriptor.
    try:
        dir_fd = open_folder(s.data, "uploads")
    except (UnsafePath, FileNotFoundError) as exc:
        raise bad(f"refused: the uploads folder is not usable: {exc}", 409) from None
    tmp_name = f".upload-{os.getpid()}-{id(request):x}.tmp"
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        fd = os.open(
            tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW, 0o666, dir_fd=dir_fd
        )
        with os.fdopen(fd, "wb") as f:
            while True:
                try:
                    chunk = await (
                        source.read_chunk(1 << 16)
                        if hasattr(source, "read_chunk")
                        else source.read(1 << 16)
                    )
                except (ValueError, AssertionError, HttpProcessingError) as exc:
                    raise bad(f"bad upload body: {exc}") from None
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    raise bad(f"upload larger than the {cap} byte limit", 413)
                if len(head) < 64:
                    head += chunk[: 64 - len(head)]
                digest.update(chunk)
                f.write(chunk)  # 64 KiB into the page cache: cheap; the fsync below is not
            f.flush()
            await asyncio.to_thread(os.fsync, f.fileno())
        if size == 0:
            raise bad("empty upload")
        found = sniff(head)
        if found is None:
            raise bad(
                "not a recognised image, audio or video file (checked by content, not by name)", 415
            )
        kind, mime, ext = found
        name = f"{_clean_stem(filename)}-{digest.hexdigest()[:12]}{ext}"
        os.replace(tmp_name, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name, dir_fd=dir_fd)
        os.close(dir_fd)
    return web.json_response(
        {
            "name": name,
            "kind": kind,
            "mime": mime,
            "size": size,
            "sha256": digest.hexdigest(),
            "path": str(s.uploads_dir / name),
            "url": f"/api/files/uploads/{name}",
        },
        status=201,
    )


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
    return web.FileResponse(
        path, headers={"Content-Type": mime_for(path.name), "Cache-Control": "no-cache"}
    )
