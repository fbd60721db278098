"""The WebSocket hub's per-client queues, with a client that stalls until released."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from server import hub as hubmod
from server.hub import Client, Hub


class StalledSocket:
    """Stands in for a WebSocketResponse whose peer does not read until `release` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.sent: list[Any] = []
        self.closed: int | None = None

    async def send_str(self, text: str) -> None:
        await self.release.wait()
        self.sent.append(json.loads(text))

    async def send_bytes(self, data: bytes) -> None:
        await self.release.wait()
        self.sent.append(data)

    async def close(self, code: int = 1000, message: bytes = b"") -> None:
        self.closed = code


def _attach(hub: Hub, ws: StalledSocket) -> Client:
    c = Client(ws)  # type: ignore[arg-type]
    hub.clients.add(c)
    c.task = asyncio.get_running_loop().create_task(hub._sender(c))
    return c


def test_progress_is_coalesced_and_order_kept() -> None:
    async def main() -> list[Any]:
        hub = Hub()
        ws = StalledSocket()
        _attach(hub, ws)
        hub.publish({"type": "node.started", "run_id": "r", "node_id": "a"})
        for i in range(500):
            hub.publish({"type": "node.progress", "run_id": "r", "node_id": "a", "value": i, "max": 500})
            hub.publish({"type": "node.progress", "run_id": "r", "node_id": "b", "value": i, "max": 500})
        hub.publish({"type": "node.finished", "run_id": "r", "node_id": "a"})
        ws.release.set()
        await asyncio.sleep(0.05)
        assert hub.coalesced == 998
        return ws.sent

    sent = asyncio.run(main())
    assert [(m["type"], m["node_id"], m.get("value")) for m in sent] == [
        ("node.started", "a", None), ("node.progress", "a", 499), ("node.progress", "b", 499),
        ("node.finished", "a", None)]


def test_latest_previews_win_and_a_flooded_client_is_dropped() -> None:
    async def main() -> tuple[list[Any], Hub, StalledSocket]:
        hub = Hub()
        ws = StalledSocket()
        _attach(hub, ws)
        for i in range(20):
            hub.publish_binary(bytes([i]))
        hub.publish({"type": "run.finished", "run_id": "r"})
        ws.release.set()
        await asyncio.sleep(0.05)
        before_flood = list(ws.sent)
        stuck = StalledSocket()
        _attach(hub, stuck)
        for i in range(hubmod.MAX_QUEUED + 2):  # +1 is in the stalled send itself
            hub.publish({"type": "run.queued", "run_id": str(i)})
            if i % 500 == 0:
                await asyncio.sleep(0)  # the reading client keeps up; the stalled one cannot
        await asyncio.sleep(0.01)
        assert len(ws.sent) == len(before_flood) + hubmod.MAX_QUEUED + 2
        return before_flood, hub, stuck

    sent, hub, stuck = asyncio.run(main())
    frames = [m for m in sent if isinstance(m, bytes)]
    assert frames == [bytes([i]) for i in range(20 - hubmod.MAX_PREVIEWS, 20)]  # the newest 8
    assert sent[-1] == {"type": "run.finished", "run_id": "r"}
    assert hub.dropped_previews == 20 - hubmod.MAX_PREVIEWS
    assert hub.disconnected_slow == 1 and stuck.closed == 1013 and len(hub.clients) == 1
