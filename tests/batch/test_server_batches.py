"""/api/batches on a real server subprocess: JSON rows and an uploaded CSV, per-row
events on the WebSocket, a bad row with its column, cancel, and a restart."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import ServerProcess, link, prepare_folder, wf

IMAGES = wf(
    {
        "solid": {"type": "image.Solid", "inputs": {"width": 32, "height": 24, "color": "#ff8000"}},
        "save": {
            "type": "image.SavePNG",
            "inputs": {"image": link("solid", "image"), "prefix": "tile"},
        },
    },
    name="tiles",
    params={
        "color": {"node": "solid", "input": "color", "type": "TEXT", "default": "#ff8000"},
        "width": {"node": "solid", "input": "width", "type": "INT", "default": 32},
    },
)
SLOW = wf(
    {"s": {"type": "rgtest.Slow", "inputs": {"steps": 400, "delay": 0.05}}},
    name="slow",
    params={"label": {"node": "s", "input": "label", "type": "TEXT", "default": "x"}},
)


@pytest.fixture
def srv(tmp_path: Path) -> Any:
    prepare_folder(tmp_path)
    s = ServerProcess(tmp_path / "data").start()
    yield s
    s.stop()


def wait_batch(srv: ServerProcess, batch_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        b = srv.get(f"/api/batches/{batch_id}").json()
        if b["status"] != "running":
            return b
        assert time.monotonic() < deadline, b
        time.sleep(0.1)


def multipart(fields: dict[str, tuple[str | None, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = b""
    for name, (filename, data) in fields.items():
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


async def _collect_events(url: str, ready: asyncio.Event, until: int) -> list[dict[str, Any]]:
    import aiohttp

    events: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as s, s.ws_connect(f"{url}/api/ws") as ws:
        await ws.receive_json(timeout=10)  # hello
        ready.set()
        while sum(e["type"] == "batch.finished" for e in events) < until:
            msg = await ws.receive(timeout=60)
            if msg.type == aiohttp.WSMsgType.TEXT:
                data = json.loads(msg.data)
                if data["type"].startswith("batch."):
                    events.append(data)
    return events


def test_batches_run_rows_as_runs_report_bad_rows_and_survive_a_restart(
    srv: ServerProcess,
) -> None:
    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        ready = asyncio.Event()
        collector = asyncio.create_task(_collect_events(srv.url, ready, until=1))
        await ready.wait()
        r = await asyncio.to_thread(
            srv.post,
            "/api/batches",
            {
                "workflow": IMAGES,
                "rows": [
                    {"color": "#112233", "width": 16},
                    {"color": "#445566"},
                    {"color": "#778899", "width": -5},
                ],
                "name_template": "tile-{row}",
            },
        )
        assert r.status == 202, r.body
        return await collector, r.json()

    events, created = asyncio.run(scenario())
    assert created["valid"] == 2 and created["invalid"] == 1
    assert [(p["row"], p["column"]) for p in created["problems"]] == [(3, "width")]
    b = wait_batch(srv, created["batch_id"])
    assert b["status"] == "finished"
    assert b["counts"]["finished"] == 2 and b["counts"]["invalid"] == 1
    rows = {r["row"]: r for r in b["rows"]}
    assert rows[1]["stem"] == "tile-1" and rows[1]["params"] == {"color": "#112233", "width": 16}
    assert rows[3]["status"] == "invalid" and rows[3]["error"]["column"] == "width"
    for n in (1, 2):
        assert rows[n]["status"] == "finished" and rows[n]["files"], rows[n]
        png = srv.get(rows[n]["files"][0]["url"])
        assert png.status == 200 and png.body[:8] == b"\x89PNG\r\n\x1a\n"
        run = srv.get(rows[n]["url"]).json()
        assert run["name"].endswith(rows[n]["stem"])  # an ordinary run, named by the row
    row_events = [(e["row"], e["status"]) for e in events if e["type"] == "batch.row"]
    assert (1, "finished") in row_events and (2, "finished") in row_events
    assert events[-1]["type"] == "batch.finished" and events[-1]["batch_id"] == created["batch_id"]

    # An uploaded CSV (BOM, CRLF) works the same way; a sheet with no valid row is a 400.
    body, ctype = multipart(
        {
            "workflow": (None, json.dumps(IMAGES).encode()),
            "rows": ("tiles.csv", b"\xef\xbb\xbfcolor,width\r\n#010203,8\r\n"),
        }
    )
    up = srv.post("/api/batches", raw=body, headers={"Content-Type": ctype})
    assert up.status == 202, up.body
    assert wait_batch(srv, up.json()["batch_id"])["counts"]["finished"] == 1
    body, ctype = multipart(
        {"workflow": (None, json.dumps(IMAGES).encode()), "rows": ("t.csv", b"colour\nred\n")}
    )
    bad = srv.post("/api/batches", raw=body, headers={"Content-Type": ctype})
    assert bad.status == 400 and bad.json()["problems"][0]["column"] == "colour"

    # Cancel: the running row stops, the queued ones never start.
    slow = srv.post(
        "/api/batches", {"workflow": SLOW, "rows": [{"label": str(i)} for i in range(3)]}
    )
    assert slow.status == 202, slow.body
    slow_id = slow.json()["batch_id"]
    deadline = time.monotonic() + 30
    while srv.get(f"/api/batches/{slow_id}").json()["counts"]["running"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    gone = srv.request("DELETE", f"/api/batches/{slow_id}")
    assert gone.status == 200 and gone.json()["stopped"] == 3
    done = wait_batch(srv, slow_id)
    assert done["status"] == "cancelled"
    deadline = time.monotonic() + 30
    while {r["status"] for r in srv.get(f"/api/batches/{slow_id}").json()["rows"]} != {"cancelled"}:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert srv.request("DELETE", f"/api/batches/{slow_id}").status == 409

    # The batches are in the database: a restarted server lists them as they were.
    srv.stop()
    srv.start()
    listed = srv.get("/api/batches").json()
    assert listed["total"] == 3
    by_id = {b["id"]: b for b in listed["batches"]}
    assert by_id[created["batch_id"]]["counts"]["finished"] == 2
    assert by_id[slow_id]["status"] == "cancelled"
    again = srv.get(f"/api/batches/{created['batch_id']}").json()
    assert [r["status"] for r in again["rows"]] == ["finished", "finished", "invalid"]
    assert srv.get("/api/batches/nope").status == 404
    paths = srv.get("/api/openapi.json").json()["paths"]
    assert {"/api/batches", "/api/batches/{batch_id}"} <= set(paths)
