"""The WebSocket: event sequence of a real run, previews, cancel, slow clients."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import signal
import socket
import time
from typing import Any

import aiohttp
from PIL import Image

from reelgraph.server.previews import unpack_frame

from .conftest import IMAGE_WF, link, slow_wf, wf

FINAL = ("run.finished", "run.failed", "run.cancelled")


async def _collect(
    server: Any, run_body: dict[str, Any], *, on_event: Any = None, timeout: float = 60
) -> tuple[str, list[Any]]:
    """Connect, queue the run, and gather (JSON events and binary frames) until it ends."""
    got: list[Any] = []
    async with aiohttp.ClientSession() as s, s.ws_connect(f"{server.url}/api/ws") as ws:
        hello = await ws.receive_json(timeout=10)
        assert hello["type"] == "hello"
        async with s.post(f"{server.url}/api/runs", json=run_body) as r:
            assert r.status == 202, await r.text()
            run_id = (await r.json())["run_id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = await ws.receive(timeout=timeout)
            if msg.type == aiohttp.WSMsgType.BINARY:
                header, payload = unpack_frame(msg.data)
                if header["run_id"] == run_id:
                    got.append((header, payload))
                continue
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            ev = json.loads(msg.data)
            if ev.get("run_id") != run_id:
                continue
            got.append(ev)
            if on_event is not None:
                await on_event(ev, s, run_id)
            if ev["type"] in FINAL:
                return run_id, got
    raise AssertionError(f"run did not end; got {got}")


def test_event_sequence_of_a_real_run(server):
    _run_id, got = asyncio.run(_collect(server, {"workflow": IMAGE_WF}))
    events = [e for e in got if isinstance(e, dict)]
    types = [e["type"] for e in events]
    assert types[0] == "run.queued" and types[1] == "run.started" and types[-1] == "run.finished"
    started = [e["node_id"] for e in events if e["type"] == "node.started"]
    finished = {e["node_id"]: e for e in events if e["type"] == "node.finished"}
    assert sorted(started) == ["a", "b", "p", "s"] and sorted(finished) == ["a", "b", "p", "s"]
    # dependency order: a before b before p and s
    assert types.index("node.started") < types.index("node.finished")
    order = [e["node_id"] for e in events if e["type"] == "node.finished"]
    assert order.index("a") < order.index("b") < min(order.index("p"), order.index("s"))
    assert all(f["seconds"] >= 0 and f["node_type"] for f in finished.values())
    assert events[-1]["executed"] == 4 and events[-1]["status"] == "finished"
    # the preview arrived as a binary frame holding a JPEG thumbnail of the blurred image
    frames = [f for f in got if isinstance(f, tuple)]
    assert len(frames) == 1
    header, payload = frames[0]
    assert header["node_id"] == "p" and header["kind"] == "image" and header["mime"] == "image/jpeg"
    img = Image.open(io.BytesIO(payload))
    assert img.format == "JPEG" and img.size == (64, 48) == (header["width"], header["height"])
    r, g, b = img.getpixel((32, 24))
    assert r > 200 and 100 < g < 160 and b < 40  # the solid #ff8000
    # a second identical run comes from the cache
    _, again = asyncio.run(_collect(server, {"workflow": IMAGE_WF}))
    cached = {e["node_id"] for e in again if isinstance(e, dict) and e["type"] == "node.cached"}
    assert {"a", "b"} <= cached or {"p"} <= cached


def test_failure_event_names_node_and_message(server):
    doc = wf({"f": {"type": "rgtest.Fail", "inputs": {"message": "bad input"}}})
    _, got = asyncio.run(_collect(server, {"workflow": doc}))
    failed = [e for e in got if e["type"] == "node.failed"]
    assert failed[0]["node_id"] == "f" and "bad input" in failed[0]["message"]
    assert got[-1]["type"] == "run.failed" and got[-1]["error"]["node_id"] == "f"


def test_progress_events_and_cancel_mid_run(server):
    async def cancel_on_progress(ev: dict[str, Any], s: aiohttp.ClientSession, run_id: str) -> None:
        if ev["type"] == "node.progress" and ev["value"] >= 3 and not cancelled:
            cancelled.append(ev["value"])
            async with s.post(f"{server.url}/api/runs/{run_id}/cancel") as r:
                assert r.status == 202, await r.text()

    cancelled: list[Any] = []
    run_id, got = asyncio.run(
        _collect(server, {"workflow": slow_wf(2000, 0.01)}, on_event=cancel_on_progress)
    )
    assert got[-1]["type"] == "run.cancelled"
    progress = [e for e in got if e["type"] == "node.progress"]
    assert progress and all(e["max"] == 2000 for e in progress)
    assert progress[-1]["value"] < 2000
    run = server.get(f"/api/runs/{run_id}").json()
    assert run["status"] == "cancelled" and run["outputs"] == {}


def test_cancel_a_queued_run(server):
    first = server.queue(slow_wf(300, 0.01, "first"))
    second = server.queue(slow_wf(1, 0.0, "second"))
    r = server.post(f"/api/runs/{second}/cancel")
    assert r.status == 200 and r.json()["status"] == "cancelled"
    server.post(f"/api/runs/{first}/cancel")
    assert server.wait_run(first)["status"] == "cancelled"
    run = server.get(f"/api/runs/{second}").json()
    assert run["status"] == "cancelled" and run["started"] is None


def _stuck_client(port: int) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0]
    return sock


def test_stuck_client_never_blocks_a_run(server):
    stuck = [_stuck_client(server.port) for _ in range(3)]
    try:
        doc = wf(
            {
                "n": {"type": "rgtest.Noise", "inputs": {"size": 256, "seed": 1}},
                "m": {
                    "type": "rgtest.ManyPreviews",
                    "inputs": {"image": link("n", "image"), "count": 400},
                },
            }
        )
        run_id, got = asyncio.run(_collect(server, {"workflow": doc}))
        assert got[-1]["type"] == "run.finished"
        # The live client got previews and coalesced progress, the run never waited on the stuck ones.
        assert any(isinstance(f, tuple) for f in got)
        progress = [e for e in got if isinstance(e, dict) and e["type"] == "node.progress"]
        assert progress[-1]["value"] == 400
        ws_stats = server.get("/api/system").json()["websocket"]
        assert ws_stats["dropped_previews"] > 0
        assert server.get(f"/api/runs/{run_id}").json()["status"] == "finished"
    finally:
        for s in stuck:
            s.close()


def test_many_clients_all_see_the_run(server):
    async def main() -> None:
        async with aiohttp.ClientSession() as s:
            sockets = [await s.ws_connect(f"{server.url}/api/ws") for _ in range(20)]
            for ws in sockets:
                assert (await ws.receive_json(timeout=10))["type"] == "hello"
            async with s.post(
                f"{server.url}/api/runs", json={"workflow": slow_wf(20, 0.001, "many")}
            ) as r:
                run_id = (await r.json())["run_id"]
            for ws in sockets:
                while True:
                    msg = await ws.receive(timeout=30)
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue
                    ev = json.loads(msg.data)
                    if ev.get("run_id") == run_id and ev["type"] in FINAL:
                        assert ev["type"] == "run.finished"
                        break
            for ws in sockets:
                await ws.close()

    asyncio.run(main())


def test_cancel_races_the_worker_claiming_the_run(server):
    for _ in range(5):
        run_id = server.queue(slow_wf(300, 0.01, "race"))
        r = server.post(f"/api/runs/{run_id}/cancel")
        assert r.status in (200, 202), r.body
        run = server.wait_run(run_id)
        assert run["status"] == "cancelled"
        assert run["outputs"] == {}


def test_video_and_audio_previews(server):
    doc = wf({"v": {"type": "rgtest.VideoPreview", "inputs": {"frames": 30}}})
    _, got = asyncio.run(_collect(server, {"workflow": doc}))
    assert got[-1]["type"] == "run.finished"
    frames = [f for f in got if isinstance(f, tuple)]
    video = [(h, p) for h, p in frames if h["kind"] == "video"]
    assert [h["frame"] for h, _ in video] == [0, 10, 19, 29]  # sampled evenly
    assert all(h["count"] == 4 and h["fps"] == 10.0 and h["frame_count"] == 30 for h, _ in video)
    for h, payload in video:
        img = Image.open(io.BytesIO(payload))
        assert img.format == "JPEG" and img.size == (64, 40)
        assert abs(img.getpixel((5, 5))[0] - h["frame"] * 8) <= 3  # the right frame
    audio = [(h, p) for h, p in frames if h["kind"] == "audio"]
    assert (
        len(audio) == 1
        and audio[0][0]["mime"] == "audio/wav"
        and audio[0][0]["sample_rate"] == 8000
    )
    import wave

    with wave.open(io.BytesIO(audio[0][1])) as w:
        assert w.getframerate() == 8000 and w.getnframes() == 8000 and w.getnchannels() == 1


def test_following_one_run(server):
    async def main() -> None:
        async with aiohttp.ClientSession() as s:
            a = server.queue(slow_wf(100, 0.01, "a"))  # b waits behind it
            b = server.queue(slow_wf(3, 0.0, "b"))
            async with s.ws_connect(f"{server.url}/api/ws?run={b}") as ws:
                hello = await ws.receive_json(timeout=10)
                assert hello["run"] == {"id": b, "status": "queued"}
                seen = []
                while True:
                    ev = await ws.receive_json(timeout=30)
                    seen.append(ev)
                    if ev["type"] in FINAL:
                        break
            assert {e["run_id"] for e in seen} == {b}
            assert seen[0]["type"] == "run.started" and seen[-1]["type"] == "run.finished"
            assert server.get(f"/api/runs/{a}").json()["status"] == "finished"

    asyncio.run(main())


def test_shutdown_is_not_held_by_stuck_clients(make_server):
    srv = make_server()
    stuck = [_stuck_client(srv.port) for _ in range(3)]
    try:
        srv.proc.send_signal(signal.SIGTERM)
        srv.proc.wait(20)
        assert srv.proc.returncode == 0
    finally:
        for s in stuck:
            s.close()


def test_uploaded_image_feeds_a_run(server):
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 0, 255)).save(buf, format="PNG")
    up = server.post(
        "/api/uploads?filename=blue.png",
        raw=buf.getvalue(),
        headers={"Content-Type": "application/octet-stream"},
    ).json()
    doc = wf(
        {
            "l": {"type": "image.Load", "inputs": {"path": up["path"]}},
            "p": {"type": "image.Preview", "inputs": {"image": link("l", "image")}},
        }
    )
    _, got = asyncio.run(_collect(server, {"workflow": doc}))
    assert got[-1]["type"] == "run.finished"
    ((header, payload),) = [f for f in got if isinstance(f, tuple)]
    assert header["node_id"] == "p"
    img = Image.open(io.BytesIO(payload))
    assert img.size == (40, 30) and img.getpixel((20, 15))[2] > 200
