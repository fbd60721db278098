"""Small helpers every route module uses: JSON errors, body and query parsing."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from aiohttp import web

from .state import SERVER_KEY

log = logging.getLogger("reelgraph.server")


def error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


async def read_json(request: web.Request) -> Any:
    """The body as JSON, within the caps (each refusal names its cap):
    body size, nesting depth, string length, integer digits; finite numbers only."""
    config = request.app[SERVER_KEY].config
    try:
        data = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise web.HTTPRequestEntityTooLarge(
            max_size=config.max_body,
            actual_size=request.content_length or 0,
            text=json.dumps(
                {"error": f"request body too large: the cap is {config.max_body} bytes (max_body)"}
            ),
            content_type="application/json",
        ) from None
    if not data:
        return None
    caps = JsonCaps(config.max_depth, MAX_STRING, MAX_INT_DIGITS)
    if len(data) > 1 << 18:  # a big body is parsed off the event loop
        return await asyncio.to_thread(parse_capped, data, caps)
    return parse_capped(data, caps)


MAX_STRING = 1 << 20  # characters in one JSON string
MAX_INT_DIGITS = 400  # digits of one JSON integer (Python refuses str->int past 4300)


class JsonCaps:
    __slots__ = ("depth", "int_digits", "string")

    def __init__(self, depth: int, string: int, int_digits: int):
        self.depth, self.string, self.int_digits = depth, string, int_digits


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_capped(data: bytes, caps: JsonCaps) -> Any:
    """json.loads behind a pre-scan: the nesting depth is measured on the raw bytes (strings
    taken out) before the recursive parser can hit Python's recursion limit."""
    try:
        outside = _STRING.sub(b'""', data)
    except RecursionError:
        raise bad("body is not valid JSON: unreadable string") from None
    depth = deepest = 0
    for m in _BRACKETS.finditer(outside):
        if m.group() in (b"[", b"{"):
            depth += 1
            if depth > caps.depth:
                raise bad(
                    f"body nests deeper than {caps.depth} levels (cap max_depth)", cap="max_depth"
                )
            deepest = max(deepest, depth)
        else:
            depth -= 1
    digits = re.search(rb"\d{%d,}" % (caps.int_digits + 1), outside)
    if digits is not None:
        raise bad(
            f"a number in the body has more than {caps.int_digits} digits (cap max_int_digits)",
            cap="max_int_digits",
        )
    try:
        value = json.loads(data, parse_constant=_no_constants, parse_float=_finite)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, ValueError) as exc:
        if isinstance(exc, web.HTTPException):
            raise
        raise bad(f"body is not valid JSON: {exc}") from None
    _check_strings(value, caps.string)
    return value


def _check_strings(value: Any, cap: int) -> None:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            _check_string(v, cap)
        elif isinstance(v, dict):
            for k, item in v.items():
                _check_string(k, cap)
                stack.append(item)
        elif isinstance(v, list):
            stack.extend(v)


def _check_string(text: str, cap: int) -> None:
    if len(text) > cap:
        raise bad(
            f"a string in the body is longer than {cap} characters (cap max_string)",
            cap="max_string",
        )
    m = _SURROGATE.search(text)
    if m is not None:
        raise bad(
            f"a string in the body holds a lone surrogate (\\u{ord(m.group()):04x}): not valid Unicode",
            cap="unicode",
        )


def _finite(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise bad(f"body is not valid JSON: {text[:40]} is out of range for a number")
    return value


def _no_constants(name: str) -> Any:
    # NaN / Infinity are not JSON: stored, they would make every later answer unparsable.
    raise bad(f"body is not valid JSON: {name} is not a JSON number")


async def bounded(server: Any, fn: Any, *args: Any, timeout: float = 60.0) -> Any:
    """Run validation work (shape checks, plans, fingerprints) on the server's small
    validation pool: at most `max_concurrent_validations` at once, so hostile documents
    cannot take every thread of the event loop's pool. 503 when it stays busy."""
    try:
        await asyncio.wait_for(server.validations.acquire(), timeout)
    except TimeoutError:
        raise bad("the server is busy validating other workflows: try again", 503) from None
    try:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(server.validation_pool, lambda: fn(*args))
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            raise bad(f"validation took longer than {timeout:g} s", 503) from None
        except (web.HTTPException, ValueError):
            raise  # HTTP answers, and WorkflowError (a ValueError) for the caller to report
        except Exception as exc:
            # A document the validator cannot handle is still the client's bad input: a 400
            # that says so (and a log line for the bug), never a 500.
            log.exception("validation failed on a request body")
            raise bad(f"the workflow cannot be validated: {type(exc).__name__}: {exc}") from None
    finally:
        server.validations.release()


def bad(message: str, status: int = 400, **extra: Any) -> web.HTTPException:
    cls = {
        400: web.HTTPBadRequest,
        404: web.HTTPNotFound,
        409: web.HTTPConflict,
        413: web.HTTPRequestEntityTooLarge,
        415: web.HTTPUnsupportedMediaType,
        503: web.HTTPServiceUnavailable,
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
