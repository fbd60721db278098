"""What the batch view does, end to end on a real server: a CSV with awkward rows (quotes,
commas, unicode, a BOM, CRLF, an empty line, a column no param has) read as a sheet, row 1
as a still, the rows run as a batch, the ZIP of it streamed, and failed rows retried
in the same batch. (Cancel itself and JSON rows: tests/batch/test_server_batches.py.)"""

from __future__ import annotations

import csv
import io
import time
import urllib.request
import zipfile

from PIL import Image

from tests.batch.test_server_batches import multipart, wait_batch

from .conftest import ServerProcess, link, wf

TILES = wf(
    {
        "solid": {"type": "image.Solid", "inputs": {"width": 40, "height": 30, "color": "#808080"}},
        "save": {
            "type": "image.SavePNG",
            "inputs": {"image": link("solid", "image"), "prefix": "tile"},
        },
    },
    name="tiles",
    params={
        "color": {"node": "solid", "input": "color", "type": "TEXT", "default": "#808080"},
        "name": {"type": "TEXT", "default": "someone"},  # no node: it names the row's files
    },
)
SHEET = (
    "\ufeffname,color,notes\r\n"
    '"Smith, Jane",#ff0000,"she said ""hi"", twice"\r\n'
    "\r\n"
    "Zoë 東京,#00aa00,plain\r\n"
    '"Ann ""The Hammer""",#0000ff,two words\r\n'
).encode()
NAMES = ["Smith, Jane", "Zoë 東京", 'Ann "The Hammer"']


def test_a_sheet_with_awkward_rows_previews_runs_and_downloads_as_one_zip(
    server: ServerProcess,
) -> None:
    assert server.request("PUT", "/api/workflows/tiles", TILES).status == 201
    sheet = server.post("/api/app/tiles/sheet?filename=people.csv", raw=SHEET)
    assert sheet.status == 200, sheet.body
    got = sheet.json()
    assert got["columns"] == ["name", "color", "notes"]  # no BOM in the first name
    assert [r["name"] for r in got["rows"]] == NAMES  # the empty line is no row
    assert got["rows"][0]["notes"] == 'she said "hi", twice'
    assert not any("\r" in str(v) for r in got["rows"] for v in r.values())

    # row 1 as a still, before anything runs: row 1's colour, not the default grey
    still = server.post("/api/app/tiles/still", {"params": {"color": "#ff0000", "name": NAMES[0]}})
    assert still.status == 202, still.body
    deadline = time.monotonic() + 60
    while (r := server.get(still.json()["url"])).status == 202:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert r.status == 200, r.body
    im = Image.open(io.BytesIO(r.body)).convert("RGB")
    assert im.getpixel((im.width // 2, im.height // 2)) == (255, 0, 0)

    # run all: the file uploaded as it is; the column no param has is left out when asked
    body, ctype = multipart(
        {
            "workflow": (None, b"tiles"),
            "rows": ("people.csv", SHEET),
            "name_template": (None, b"{name}"),
            "ignore_unknown_columns": (None, b"true"),
        }
    )
    up = server.post("/api/batches", raw=body, headers={"Content-Type": ctype})
    assert up.status == 202, up.body
    b = wait_batch(server, up.json()["batch_id"])
    assert b["status"] == "finished" and b["counts"]["finished"] == 3, b
    assert [r["params"]["name"] for r in b["rows"]] == NAMES
    stems = [r["stem"] for r in b["rows"]]
    assert len(set(stems)) == 3 and not any(c in s for s in stems for c in '/\\:"')

    # the ZIP is streamed (chunked, no length known up front) and holds every row's files
    # and a manifest
    req = urllib.request.Request(f"{server.url}/api/app/batches/{b['id']}/zip")
    with urllib.request.urlopen(req, timeout=60) as res:
        assert res.headers["Content-Type"] == "application/zip"
        assert res.headers.get("Content-Length") is None
        assert res.headers.get("Transfer-Encoding") == "chunked"
        data = res.read()
    z = zipfile.ZipFile(io.BytesIO(data))
    assert z.testzip() is None
    pngs = sorted(n for n in z.namelist() if n.endswith(".png"))
    assert [n.split("/")[0][:5] for n in pngs] == ["0001-", "0002-", "0003-"]
    for r, n in zip(b["rows"], pngs, strict=True):
        assert z.read(n) == server.get(r["files"][0]["url"]).body
    manifest = list(csv.DictReader(io.StringIO(z.read("batch.csv").decode("utf-8-sig"))))
    assert [(m["row"], m["status"]) for m in manifest] == [(str(i), "finished") for i in (1, 2, 3)]
    assert manifest[0]["files"] == pngs[0]


def test_a_crlf_inside_a_quoted_cell_is_one_newline(server: ServerProcess) -> None:
    assert server.request("PUT", "/api/workflows/tiles", TILES).status in (200, 201)
    sheet = server.post(
        "/api/app/tiles/sheet?filename=notes.csv",
        raw=b'name,notes\r\nAnn,"two\r\nlines"\r\n',
    )
    assert sheet.status == 200, sheet.body
    assert sheet.json()["rows"][0]["notes"] == "two\nlines"


def test_failed_and_cancelled_rows_are_retried_in_the_same_batch(server: ServerProcess) -> None:
    slow = wf(
        {"s": {"type": "rgtest.Slow", "inputs": {"steps": 40, "delay": 0.05}}},
        name="slow",
        params={"label": {"node": "s", "input": "label", "type": "TEXT", "default": "x"}},
    )
    r = server.post("/api/batches", {"workflow": slow, "rows": [{"label": "a"}, {"label": "b"}]})
    assert r.status == 202, r.body
    batch_id = r.json()["batch_id"]
    assert server.post(f"/api/batches/{batch_id}/retry").status == 409  # nothing failed yet
    deadline = time.monotonic() + 30
    while server.get(f"/api/batches/{batch_id}").json()["counts"]["running"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert server.request("DELETE", f"/api/batches/{batch_id}").status == 200
    deadline = time.monotonic() + 30
    while {x["status"] for x in server.get(f"/api/batches/{batch_id}").json()["rows"]} != {
        "cancelled"
    }:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    before = {x["row"]: x["run_id"] for x in server.get(f"/api/batches/{batch_id}").json()["rows"]}
    again = server.post(f"/api/batches/{batch_id}/retry")
    assert again.status == 202, again.body
    assert [x["row"] for x in again.json()["retried"]] == [1, 2]
    b = wait_batch(server, batch_id)
    assert b["status"] == "finished" and b["counts"]["finished"] == 2, b
    assert all(x["run_id"] != before[x["row"]] for x in b["rows"])  # new runs, same batch
    assert [x["params"] for x in b["rows"]] == [{"label": "a"}, {"label": "b"}]
    assert server.post(f"/api/batches/{batch_id}/retry").status == 409
    assert server.post("/api/batches/nope/retry").status == 404
