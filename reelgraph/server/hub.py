"""WebSocket clients: each gets a bounded queue and its own sender task.

Publishing never waits on a client. Progress messages are coalesced per
(run, node, item): a client that falls behind gets the latest value, not a
backlog. At most MAX_PREVIEWS preview frames wait per client; a newer one
pushes out the oldest, so the last preview of a run always arrives.
A client whose queue still overflows is disconnected (it can reconnect and
read the state from GET /api/runs); the run never notices.

Each message is framed once (a WebSocket frame is the same bytes for every
client) and a client's sender writes everything waiting in one socket write:
a burst of events costs one syscall per client, not one per message. The
sender waits while the client's unsent bytes are above HIGH_WATER.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from collections import deque
from typing import Any

from aiohttp import WSCloseCode, web

MAX_QUEUED = 20000  # messages waiting per client before it is dropped (texts are shared)
MAX_PREVIEWS = 8  # binary preview frames waiting per client; a newer one replaces the oldest
BATCH_BYTES = 256 << 10  # most bytes handed to one socket write
HIGH_WATER = 1 << 20  # a client's unsent bytes above which its sender waits
TEXT, BINARY = 0x1, 0x2


def ws_frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked server-to-client WebSocket frame (RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def text_frame(message: dict[str, Any]) -> bytes:
    return ws_frame(TEXT, json.dumps(message, separators=(",", ":"), default=str).encode())


_PREVIEW = object()  # queue marker: send the oldest waiting preview frame


class Client:
    __slots__ = ("event", "only_run", "previews", "progress", "queue", "task", "transport", "ws")

    def __init__(self, ws: web.WebSocketResponse, transport: Any, only_run: str | None = None):
        self.ws = ws
        self.transport = transport  # the request's asyncio transport: frames are written to it
        self.only_run = only_run  # set: this client follows one run only
        # Ready frames (bytes), progress slots (tuple keys) and preview markers, in order.
        self.queue: deque[Any] = deque()
        # (run, node, item) -> latest progress frame, sent in the slot of the first one
        self.progress: dict[tuple[Any, ...], bytes] = {}
        # Waiting preview frames; when full the oldest goes, so the latest preview always arrives.
        self.previews: deque[bytes] = deque(maxlen=MAX_PREVIEWS)
        self.event = asyncio.Event()
        self.task: asyncio.Task[None] | None = None


class Hub:
    def __init__(self) -> None:
        self.clients: set[Client] = set()
        self.sent = 0
        self.coalesced = 0
        self.dropped_previews = 0
        self.disconnected_slow = 0
        self._closing: set[asyncio.Future[Any]] = set()

    def stats(self) -> dict[str, int]:
        return {
            "clients": len(self.clients),
            "sent": self.sent,
            "coalesced": self.coalesced,
            "dropped_previews": self.dropped_previews,
            "disconnected_slow": self.disconnected_slow,
        }

    async def serve(
        self,
        ws: web.WebSocketResponse,
        transport: Any,
        hello: dict[str, Any],
        only_run: str | None = None,
    ) -> None:
        """Own one connected socket until it closes."""
        client = Client(ws, transport, only_run)
        self.clients.add(client)
        client.task = asyncio.create_task(self._sender(client))
        self._enqueue(client, text_frame(hello))
        try:
            async for msg in ws:
                # Clients only need to send pings; anything else is ignored.
                if msg.type == web.WSMsgType.TEXT and msg.data == "ping":
                    self._enqueue(client, text_frame({"type": "pong"}))
        finally:
            self.clients.discard(client)
            client.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await client.task

    def _audience(self, run_id: Any) -> list[Client]:
        return [c for c in self.clients if c.only_run is None or c.only_run == run_id]

    def publish(self, message: dict[str, Any]) -> None:
        """A JSON event to every client (called on the event loop)."""
        frame = text_frame(message)  # framed once, shared by every client
        run_id = message.get("run_id")
        if message.get("type") == "node.progress":
            key = (run_id, message.get("node_id"), message.get("item"))
            for c in self._audience(run_id):
                if key in c.progress:
                    c.progress[key] = frame
                    self.coalesced += 1
                else:
                    c.progress[key] = frame
                    self._enqueue(c, key)
            return
        for c in self._audience(run_id):
            self._enqueue(c, frame)

    def publish_binary(self, payload: bytes, run_id: str | None = None) -> None:
        frame = ws_frame(BINARY, payload)
        for c in self._audience(run_id):
            if len(c.previews) == MAX_PREVIEWS:
                self.dropped_previews += 1  # the oldest waiting one
            else:
                self._enqueue(c, _PREVIEW)
            c.previews.append(frame)

    def _enqueue(self, c: Client, item: Any) -> None:
        if len(c.queue) >= MAX_QUEUED:
            self._drop(c)
            return
        c.queue.append(item)
        c.event.set()

    def _drop(self, c: Client) -> None:
        if c not in self.clients:
            return
        self.clients.discard(c)
        self.disconnected_slow += 1
        c.queue.clear()
        c.progress.clear()
        c.previews.clear()
        task = asyncio.ensure_future(
            c.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"client too slow")
        )
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _sender(self, c: Client) -> None:
        try:
            await self._send_loop(c)
        except (ConnectionError, RuntimeError):
            # The peer went away mid-send: forget it now rather than fill its queue.
            self.clients.discard(c)
            c.queue.clear()
            c.progress.clear()
            c.previews.clear()

    async def _send_loop(self, c: Client) -> None:
        transport = c.transport
        while True:
            if not c.queue:
                c.event.clear()
                await c.event.wait()
                continue
            frames: list[bytes] = []
            size = 0
            while c.queue and size < BATCH_BYTES:
                item = c.queue.popleft()
                if isinstance(item, tuple):  # a coalesced progress slot
                    frame = c.progress.pop(item, None)
                elif item is _PREVIEW:
                    frame = c.previews.popleft() if c.previews else None
                else:
                    frame = item
                if frame is not None:
                    frames.append(frame)
                    size += len(frame)
            if not frames:
                continue
            if transport is None or transport.is_closing():
                raise ConnectionResetError("client went away")
            transport.write(b"".join(frames))
            self.sent += len(frames)
            # Back-pressure per client: a slow reader only ever waits here, in its own task.
            while transport.get_write_buffer_size() > HIGH_WATER:
                if transport.is_closing():
                    raise ConnectionResetError("client went away")
                await asyncio.sleep(0.01)

    async def close_all(self, timeout: float = 2.0) -> None:
        """Close every socket at once; a stuck client cannot hold the shutdown past `timeout`."""

        async def close(c: Client) -> None:
            with contextlib.suppress(Exception):
                await c.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")

        tasks = [asyncio.ensure_future(close(c)) for c in list(self.clients)]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=timeout)
            for t in pending:
                t.cancel()
