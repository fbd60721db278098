"""Small helpers every route module uses: JSON errors, body and query parsing."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any

from aiohttp import web

from reelgraph.engine.errors import WorkflowError
from reelgraph.engine.workflow import DEFAULT_LIMITS, Limits, gc_paused, loads_json

from .state import SERVER_KEY

log = logging.getLogger("reelgraph.server")


def error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def issues_answer(issues: list[Any]) -> dict[str, Any]:
    """`issues` (engine Issues) as an answer's fields: the first MAX_LISTED in full, then
    one `more_issues` entry counting the rest by code, and `counts` with exact totals."""
    from reelgraph.engine.errors import count_issues, listed_issues

    return {
        "issues": [i.to_dict() for i in listed_issues(issues)],
        "counts": count_issues(issues),
    }


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
    caps = json_caps(config)
    if len(data) > 1 << 18:  # a big body is parsed off the event loop
        return await asyncio.to_thread(parse_capped, data, caps)
    return parse_capped(data, caps)


MAX_STRING = 1 << 20  # characters in one JSON string
MAX_INT_DIGITS = DEFAULT_LIMITS.max_int_digits  # digits of one JSON integer


class JsonCaps:
    """The caps a JSON body is parsed under (see `read_json`)."""

    __slots__ = ("bytes", "depth", "int_digits", "string")

    def __init__(self, depth: int, string: int, int_digits: int, bytes: int = 32 << 20):
        self.depth, self.string, self.int_digits, self.bytes = depth, string, int_digits, bytes

    def limits(self) -> Limits:
        return Limits(
            max_bytes=self.bytes,
            max_depth=self.depth,
            max_string=self.string,
            max_int_digits=self.int_digits,
            max_nodes=sys.maxsize,  # counted where the workflow is parsed
        )

    def within(self, limits: Limits) -> bool:
        """Whether a body parsed under these caps also fits `limits` (then the workflow
        inside it needs no second walk over its values)."""
        return (
            self.depth <= limits.max_depth
            and self.string <= limits.max_string
            and self.int_digits <= limits.max_int_digits
        )


def json_caps(config: Any) -> JsonCaps:
    return JsonCaps(config.max_depth, MAX_STRING, MAX_INT_DIGITS, config.max_body)


# engine issue code -> the cap named in the answer's `cap` field
_CAP_OF = {
    "too_large": "max_body",
    "too_deep": "max_depth",
    "int_too_long": "max_int_digits",
    "string_too_long": "max_string",
    "bad_string": "unicode",
    "too_many_nodes": "max_nodes",
}


def cap_refusal(issues: list[Any]) -> web.HTTPException | None:
    """A 4xx naming the cap when parsing a workflow stopped at one (node count, say):
    a document over a cap is refused, not answered as an ordinary invalid workflow."""
    for issue in issues:
        cap = _CAP_OF.get(issue.code)
        if cap is not None:
            status = 413 if cap == "max_body" else 400
            return bad(f"workflow over a cap: {issue.message}", status, cap=cap)
    return None


def parse_capped(data: bytes, caps: JsonCaps) -> Any:
    """The body parsed by the engine's bounded JSON reader: size, nesting depth and string
    lengths measured on the text before the recursive parser runs, integer digits while
    it parses, lone surrogates after; finite numbers only. Linear in the body, C-speed
    scans (a 10 MB body of 100,000 nodes parses in a fraction of a second)."""
    try:
        return loads_json(data, limits=caps.limits(), finite=True)
    except WorkflowError as exc:
        issue = exc.issues[0]
        cap = _CAP_OF.get(issue.code)
        message = issue.message.replace("the document", "the body", 1)
        if cap == "max_body":
            raise bad(f"request body too large: {message}", 413, cap=cap) from None
        extra = {"cap": cap} if cap else {}
        prefix = "body is " if issue.code in ("bad_json", "not_finite") else "body: "
        raise bad(prefix + message, **extra) from None


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


LARGE_JSON = 1 << 20  # bytes of a JSON body past which a request pauses the cycle collector


@web.middleware
async def pause_gc_for_large_json(request: web.Request, handler: Any) -> web.StreamResponse:
    """A large JSON body (a workflow of 100,000 nodes) becomes a million objects that live
    only as long as the request. With the cycle collector on, each collection while the
    request runs walks all of them again (measured: gen-2 passes of 0.3-1.2 s each, half
    the time of validating 100,000 dangling links). Paused until the handler has returned
    and its objects are freed, the collector never sees them. Bounded by the request:
    validation gives up after 60 s. Re-enabled only if this request paused it."""
    size = request.content_length or 0
    if size < LARGE_JSON or request.content_type != "application/json":
        return await handler(request)
    failure: web.HTTPException | None = None
    with gc_paused(size, LARGE_JSON):
        try:
            return await handler(request)
        except web.HTTPException as exc:
            # Its traceback would keep the handler's frames (and the document) alive past
            # the pause: drop it, leave the except block, then raise again.
            failure = exc.with_traceback(None)
    raise failure
