"""Secure by default: loopback Host names, a token when configured, same-origin writes.

- Without a token the server only answers requests whose Host is a loopback
  name (or one allowed with --allow-host): a DNS-rebinding page on another site
  cannot reach it through a name that resolves to 127.0.0.1.
- With a token every request and the WebSocket need it: `Authorization: Bearer T`,
  `X-Reelgraph-Token: T`, `?token=T` (sets an HttpOnly SameSite=Strict cookie, so
  <video src> and the editor's later requests carry it) or that cookie.
- POST/PUT/PATCH/DELETE and WebSocket handshakes from a browser must come from
  the server's own origin: another site's page cannot queue runs.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

COOKIE = "reelgraph_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_host(value: str) -> str:
    """The host name of a Host header value (without port, brackets kept off)."""
    if not value:
        return ""
    try:
        return (urlsplit("//" + value).hostname or "?").lower()
    except ValueError:
        return "?"  # unparsable: matches no allowed name


def _deny(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def token_of(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return (
        request.headers.get("X-Reelgraph-Token")
        or request.query.get("token")
        or request.cookies.get(COOKIE)
    )


def make_middleware(
    token: str | None, allowed_hosts: set[str], allowed_origins: set[str] | None = None
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """`allowed_origins`: extra origins trusted for writes (a TLS reverse proxy's https://name)."""
    allowed = {h.lower() for h in allowed_hosts}
    origins = {o.lower().rstrip("/") for o in allowed_origins or ()}

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = split_host(request.headers.get("Host", ""))
        # No Host at all is an old non-browser client (browsers always send one): fine.
        if token is None and host and not (is_loopback(host) or host in allowed):
            return _deny(
                403,
                f"host {host!r} is not allowed: this server answers loopback names only "
                "(start it with --allow-host NAME, or with --token)",
            )
        if token is not None:
            given = token_of(request)
            if given is None or not hmac.compare_digest(given.encode(), token.encode()):
                return _deny(401, "a valid token is required (Authorization: Bearer <token>)")
        is_ws = request.headers.get("Upgrade", "").lower() == "websocket"
        if request.method in UNSAFE_METHODS or is_ws:
            origin = request.headers.get("Origin")
            if origin is not None:
                own = f"{request.scheme}://{request.host}".lower()
                if origin.lower().rstrip("/") not in (own, *origins):
                    return _deny(403, f"cross-origin request from {origin!r} refused")
            if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
                return _deny(403, "cross-site request refused")
        response = await handler(request)
        if (
            token is not None
            and request.query.get("token")
            and not request.path.startswith("/api/")
        ):
            # Opening the editor with ?token=T: remember it for the page's own requests.
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
        return response

    return guard


@web.middleware
async def headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if response.prepared:
        return response  # a WebSocket: its headers are already sent
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    return response
