"""The WebSocket hub's per-client queues, with a client that stalls until released."""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

from reelgraph.server import hub as hubmod
from reelgraph.server.hub import Client, Hub


class StalledTransport:
    """Stands in for the socket of a peer that reads nothing until `release` is set:
    written bytes count as unsent until then."""

    def __init__(self) -> None:
        self.released = False
        self.data = bytearray()
        self.closing = False

    def write(self, data: bytes) -> None:
        self.data += data

    def get_write_buffer_size(self) -> int:
        return 0 if self.released else len(self.data) + hubmod.HIGH_WATER  # stuck: always over

    def is_closing(self) -> bool:
        return self.closing

    def messages(self) -> list[Any]:
        """Parse the frames written so far: JSON for text, bytes for binary."""
        out, pos, buf = [], 0, bytes(self.data)
        while pos < len(buf):
            b0, b1 = buf[pos], buf[pos + 1]
            n, pos = b1 & 0x7F, pos + 2
            if n == 126:
                (n,), pos = struct.unpack("!H", buf[pos : pos + 2]), pos + 2
            elif n == 127:
                (n,), pos = struct.unpack("!Q", buf[pos : pos + 8]), pos + 8
            assert b0 & 0x80 and not b1 & 0x80  # final, unmasked
            payload, pos = buf[pos : pos + n], pos + n
            out.append(json.loads(payload) if b0 & 0x0F == 1 else payload)
        return out


class FakeSocket:
    def __init__(self) -> None:
        self.closed: int | None = None

    async def close(self, code: int = 1000, message: bytes = b"") -> None:
        self.closed = code


def _attach(hub: Hub, transport: StalledTransport) -> Client:
    c = Client(FakeSocket(), transport)  # type: ignore[arg-type]
    hub.clients.add(c)
    c.task = asyncio.get_running_loop().create_task(hub._sender(c))
    return c


def test_frames_are_valid_for_all_sizes() -> None:
    for n in (0, 125, 126, 65535, 65536, 200000):
        t = StalledTransport()
        t.write(hubmod.ws_frame(hubmod.BINARY, b"x" * n))
        assert t.messages() == [b"x" * n]


def test_progress_is_coalesced_and_order_kept() -> None:
    async def main() -> StalledTransport:
        hub = Hub()
        t = StalledTransport()
        _attach(hub, t)
        await asyncio.sleep(0)
        hub.publish({"type": "node.started", "run_id": "r", "node_id": "a"})
        await asyncio.sleep(0.02)  # the first write goes out, then the sender waits on the peer
        for i in range(500):
            hub.publish(
                {"type": "node.progress", "run_id": "r", "node_id": "a", "value": i, "max": 500}
            )
            hub.publish(
                {"type": "node.progress", "run_id": "r", "node_id": "b", "value": i, "max": 500}
            )
        hub.publish({"type": "node.finished", "run_id": "r", "node_id": "a"})
        t.released = True
        await asyncio.sleep(0.05)
        assert hub.coalesced == 998
        return t

    sent = asyncio.run(main()).messages()
    assert [(m["type"], m["node_id"], m.get("value")) for m in sent] == [
        ("node.started", "a", None),
        ("node.progress", "a", 499),
        ("node.progress", "b", 499),
        ("node.finished", "a", None),
    ]


def test_latest_previews_win_and_a_flooded_client_is_dropped() -> None:
    async def main() -> tuple[list[Any], Hub, Client]:
        hub = Hub()
        t = StalledTransport()
        _attach(hub, t)
        hub.publish({"type": "run.started", "run_id": "r"})
        await asyncio.sleep(0.02)  # written; the peer reads nothing now
        for i in range(20):
            hub.publish_binary(bytes([i]), "r")
        hub.publish({"type": "run.finished", "run_id": "r"})
        t.released = True
        await asyncio.sleep(0.05)
        first = t.messages()
        stuck = _attach(hub, StalledTransport())
        await asyncio.sleep(0.02)
        flood = hubmod.MAX_QUEUED + 2000  # a few hundred leave in the one write before it stalls
        for i in range(flood):
            hub.publish({"type": "run.queued", "run_id": str(i)})
            if i % 500 == 0:
                await asyncio.sleep(0)  # the reading client keeps up; the stalled one cannot
        await asyncio.sleep(0.02)
        assert len(t.messages()) == len(first) + flood
        return first, hub, stuck

    sent, hub, stuck = asyncio.run(main())
    frames = [m for m in sent if isinstance(m, bytes)]
    assert frames == [bytes([i]) for i in range(20 - hubmod.MAX_PREVIEWS, 20)]  # the newest 8
    assert sent[0] == {"type": "run.started", "run_id": "r"}
    assert sent[-1] == {"type": "run.finished", "run_id": "r"}
    assert hub.dropped_previews == 20 - hubmod.MAX_PREVIEWS
    assert hub.disconnected_slow == 1 and stuck.ws.closed == 1013 and len(hub.clients) == 1


def test_a_client_that_went_away_is_forgotten() -> None:
    async def main() -> Hub:
        hub = Hub()
        t = StalledTransport()
        t.closing = True
        _attach(hub, t)
        hub.publish({"type": "run.started", "run_id": "r"})
        await asyncio.sleep(0.02)
        return hub

    assert asyncio.run(main()).clients == set()
