"""Small helpers every route module uses: JSON errors, body and query parsing."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web

from .state import SERVER_KEY

log = logging.getLogger("reelgraph.server")


def error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


async def read_json(request: web.Request) -> Any:
    try:
        data = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise web.HTTPRequestEntityTooLarge(
            max_size=request.app[SERVER_KEY].config.max_body,
            actual_size=request.content_length or 0,
            text=json.dumps({"error": "request body too large"}),
            content_type="application/json",
        ) from None
    try:
        return json.loads(data, parse_constant=_no_constants) if data else None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise bad(f"body is not valid JSON: {exc}") from None


def _no_constants(name: str) -> Any:
    # NaN / Infinity are not JSON: stored, they would make every later answer unparsable.
    raise bad(f"body is not valid JSON: {name} is not a JSON number")


def bad(message: str, status: int = 400, **extra: Any) -> web.HTTPException:
    cls = {
        400: web.HTTPBadRequest,
        404: web.HTTPNotFound,
        409: web.HTTPConflict,
        413: web.HTTPRequestEntityTooLarge,
        415: web.HTTPUnsupportedMediaType,
    }[status]
    body = json.dumps({"error": message, **extra})
    if status == 413:
        return web.HTTPRequestEntityTooLarge(
            max_size=0, actual_size=0, text=body, content_type="application/json"
        )
    return cls(text=body, content_type="application/json")


def int_query(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad(f"query {name!r} must be an integer") from None
    if not lo <= value <= hi:
        raise bad(f"query {name!r} must be between {lo} and {hi}")
    return value


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """API errors as JSON; an unexpected exception is a logged 500, never a traceback to the client."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if (
            not request.path.startswith("/api/")
            or exc.content_type == "application/json"
            or exc.status < 400
        ):
            raise
        return web.json_response(
            {"error": exc.reason},
            status=exc.status,
            headers={k: v for k, v in exc.headers.items() if k in ("Allow",)},
        )
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return web.json_response({"error": "internal server error"}, status=500)
