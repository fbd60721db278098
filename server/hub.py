"""WebSocket clients: each gets a bounded queue and its own sender task.

Publishing never waits on a client. Progress messages are coalesced per
(run, node, item): a client that falls behind gets the latest value, not a
backlog. At most MAX_PREVIEWS preview frames wait per client; a newer one
pushes out the oldest, so the last preview of a run always arrives.
A client whose queue still overflows is disconnected (it can reconnect and
read the state from GET /api/runs); the run never notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from typing import Any

from aiohttp import WSCloseCode, web

MAX_QUEUED = 20000  # messages waiting per client before it is dropped (texts are shared)
MAX_PREVIEWS = 8  # binary preview frames waiting per client; a newer one replaces the oldest


_PREVIEW = object()  # queue marker: send the oldest waiting preview frame


class Client:
    __slots__ = ("event", "only_run", "previews", "progress", "queue", "task", "ws")

    def __init__(self, ws: web.WebSocketResponse, only_run: str | None = None):
        self.ws = ws
        self.only_run = only_run  # set: this client follows one run only
        self.queue: deque[Any] = deque()
        # (run, node, item) -> latest progress message, sent in the slot of the first one
        self.progress: dict[tuple[Any, ...], str] = {}
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
        return {"clients": len(self.clients), "sent": self.sent, "coalesced": self.coalesced,
                "dropped_previews": self.dropped_previews, "disconnected_slow": self.disconnected_slow}

    async def serve(self, ws: web.WebSocketResponse, hello: dict[str, Any], only_run: str | None = None) -> None:
        """Own one connected socket until it closes."""
        client = Client(ws, only_run)
        self.clients.add(client)
        client.task = asyncio.create_task(self._sender(client))
        self._enqueue(client, json.dumps(hello))
        try:
            async for msg in ws:
                # Clients only need to send pings; anything else is ignored.
                if msg.type == web.WSMsgType.TEXT and msg.data == "ping":
                    self._enqueue(client, json.dumps({"type": "pong"}))
        finally:
            self.clients.discard(client)
            client.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await client.task

    def _audience(self, run_id: Any) -> list[Client]:
        return [c for c in self.clients if c.only_run is None or c.only_run == run_id]

    def publish(self, message: dict[str, Any]) -> None:
        """A JSON event to every client (called on the event loop)."""
        text = json.dumps(message, separators=(",", ":"), default=str)
        run_id = message.get("run_id")
        if message.get("type") == "node.progress":
            key = (run_id, message.get("node_id"), message.get("item"))
            for c in self._audience(run_id):
                if key in c.progress:
                    c.progress[key] = text
                    self.coalesced += 1
                else:
                    c.progress[key] = text
                    self._enqueue(c, key)
            return
        for c in self._audience(run_id):
            self._enqueue(c, text)

    def publish_binary(self, frame: bytes, run_id: str | None = None) -> None:
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
        task = asyncio.ensure_future(c.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"client too slow"))
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
        while True:
            if not c.queue:
                c.event.clear()
                await c.event.wait()
                continue
            item = c.queue.popleft()
            if isinstance(item, tuple):  # a coalesced progress slot
                text = c.progress.pop(item, None)
                if text is None:
                    continue
                await c.ws.send_str(text)
            elif item is _PREVIEW:
                if not c.previews:
                    continue
                await c.ws.send_bytes(c.previews.popleft())
            else:
                await c.ws.send_str(item)
            self.sent += 1

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
