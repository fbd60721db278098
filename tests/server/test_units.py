"""Unit checks of the path rules and of content sniffing with real encoded files."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from reelgraph.server.media import sniff
from reelgraph.server.paths import UnsafePath, check_relative, safe_join

from .samples import wav_bytes


@pytest.mark.parametrize(
    "name",
    [
        "",
        "..",
        "../x",
        "a/../b",
        "a/./b",
        "a//b",
        "/abs",
        "C:/x",
        "c:x",
        "a\\b",
        "a\0b",
        ".hidden",
        "a/.git/config",
        "a%2fb",
        "%2e%2e",
        "x%00",
        "tab\there",
        "del\x7f",
    ],
)
def test_unsafe_relative_names(name):
    with pytest.raises(UnsafePath):
        check_relative(name)


def test_safe_join(tmp_path: Path):
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "f.txt").write_text("ok")
    (tmp_path / "secret").write_text("no")
    os.symlink(tmp_path / "secret", root / "a" / "link")
    os.symlink(tmp_path, root / "up")
    assert safe_join(root, "a/f.txt") == (root / "a" / "f.txt").resolve()
    assert check_relative("a/f.txt") == ["a", "f.txt"]
    for bad in ("a/link", "up/secret"):
        with pytest.raises(UnsafePath):
            safe_join(root, bad)
    with pytest.raises(FileNotFoundError):
        safe_join(root, "a/missing")


def _image(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format=fmt)
    return buf.getvalue()


def _av(container: str, codec: str, kind: str) -> bytes:
    av = pytest.importorskip("av")
    import numpy as np

    buf = io.BytesIO()
    try:
        with av.open(buf, "w", format=container) as out:
            if kind == "video":
                s = out.add_stream(codec, rate=10)
                s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
                for _ in range(3):
                    frame = av.VideoFrame.from_ndarray(
                        np.zeros((32, 32, 3), np.uint8), format="rgb24"
                    )
                    out.mux(s.encode(frame))
            else:
                s = out.add_stream(codec, rate=16000)
                frame = av.AudioFrame.from_ndarray(
                    np.zeros((1, 1024), np.int16), format="s16", layout="mono"
                )
                frame.sample_rate = 16000
                out.mux(s.encode(frame))
            out.mux(s.encode(None))
    except (av.error.FFmpegError, ValueError) as exc:  # codec not built into this PyAV
        pytest.skip(f"{container}/{codec}: {exc}")
    return buf.getvalue()


@pytest.mark.parametrize(
    "make,kind,mime",
    [
        (lambda: _image("PNG"), "image", "image/png"),
        (lambda: _image("JPEG"), "image", "image/jpeg"),
        (lambda: _image("GIF"), "image", "image/gif"),
        (lambda: _image("WEBP"), "image", "image/webp"),
        (lambda: _image("BMP"), "image", "image/bmp"),
        (wav_bytes, "audio", "audio/wav"),
        (lambda: _av("mp4", "mpeg4", "video"), "video", "video/mp4"),
        (lambda: _av("matroska", "mpeg4", "video"), "video", "video/x-matroska"),
        (lambda: _av("flac", "flac", "audio"), "audio", "audio/flac"),
        (lambda: _av("ogg", "flac", "audio"), "audio", "audio/ogg"),
    ],
)
def test_sniff_real_files(make, kind, mime):
    found = sniff(make()[:64])
    assert found is not None and found[:2] == (kind, mime)


@pytest.mark.parametrize(
    "data",
    [
        b"<html><body>hi</body></html>",
        b"#!/bin/sh\nrm -rf /\n",
        b"PK\x03\x04zipfile",
        b"%PDF-1.7",
        b"RIFF\x00\x00\x00\x00JUNK",
        b"\xff\xff\xff\xff",
        b"",
        b"\x7fELF\x02\x01\x01",
    ],
)
def test_sniff_refuses_other_content(data):
    assert sniff(data) is None


def test_large_image_preview_is_a_true_thumbnail():
    torch = pytest.importorskip("torch")
    from reelgraph.server.previews import encode_preview, unpack_frame

    image = torch.zeros(2, 1000, 2000, 3)
    image[..., 1] = 1.0  # green
    frames = encode_preview({"run_id": "r", "node_id": "n"}, image, "image")
    assert len(frames) == 2
    header, payload = unpack_frame(frames[1])
    assert (header["width"], header["height"], header["index"], header["batch"]) == (256, 128, 1, 2)
    r, g, b = Image.open(io.BytesIO(payload)).getpixel((100, 60))
    assert g > 240 and r < 20 and b < 20


def test_run_store_upgrades_an_older_database_and_quarantines(tmp_path):
    import sqlite3

    from reelgraph.server.store import RunStore

    path = tmp_path / "runs.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE runs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,"
        " status TEXT NOT NULL, name TEXT NOT NULL DEFAULT '', created REAL NOT NULL,"
        " started REAL, ended REAL, attempts INTEGER NOT NULL DEFAULT 0, workflow TEXT NOT NULL,"
        " params TEXT NOT NULL DEFAULT '{}', targets TEXT, nodes TEXT NOT NULL DEFAULT '{}',"
        " outputs TEXT NOT NULL DEFAULT '{}', error TEXT, warnings TEXT NOT NULL DEFAULT '[]',"
        " summary TEXT NOT NULL DEFAULT '{}');"
        "INSERT INTO runs (id, status, created, workflow) VALUES ('a', 'running', 1, '{}');"
        "INSERT INTO runs (id, status, created, workflow) VALUES ('b', 'queued', 2, '{}');"
    )
    old.commit()
    old.close()
    store = RunStore(path)
    assert store.recover(2) == (["a"], [])
    # 'a' went behind 'b'
    assert store.claim_next()["id"] == "b"
    assert store.claim_next()["id"] == "a"
    assert store.recover(2) == (["b"], ["a"])  # both were running: b counts its first crash
    run = store.get("a")
    assert run["status"] == "failed" and run["crashes"] == 2
    assert run["error"]["message"].startswith("quarantined after 2 crashes")
    store.add("c", {"name": "\ud800"}, {}, None, "bad \udc00 name")  # lone surrogates stored
    assert store.get("c")["workflow"] == {"name": "\ud800"}
    store.close()


def test_a_large_json_request_runs_with_the_cycle_collector_paused():
    """The collector is off while a large JSON body is handled (its million objects are
    never walked), on again afterwards, on success and on a 4xx alike; small bodies and
    other content types leave it alone."""
    import asyncio
    import gc
    import json
    import weakref

    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from reelgraph.server.common import LARGE_JSON, pause_gc_for_large_json

    seen: list[bool] = []
    alive: list[weakref.ref] = []

    class Doc(dict):
        pass

    async def handle(request: web.Request) -> web.Response:
        seen.append(gc.isenabled())
        doc = Doc(json.loads(await request.read()))
        alive.append(weakref.ref(doc))
        if request.query.get("fail"):
            raise web.HTTPBadRequest(text="no")
        return web.json_response({"keys": len(doc)})

    async def main() -> None:
        app = web.Application(middlewares=[pause_gc_for_large_json], client_max_size=1 << 24)
        app.router.add_post("/", handle)
        async with TestClient(TestServer(app)) as client:
            big = json.dumps({f"k{i}": "x" * 100 for i in range(LARGE_JSON // 100)})
            small = json.dumps({"a": 1})
            for body, query, ctype, paused, status in [
                (big, "", "application/json", True, 200),
                (big, "?fail=1", "application/json", True, 400),
                (small, "", "application/json", False, 200),
                (big, "", "text/plain", False, 200),
            ]:
                r = await client.post("/" + query, data=body, headers={"Content-Type": ctype})
                assert r.status == status
                assert seen[-1] is (not paused)
                assert gc.isenabled()
                assert alive[-1]() is None  # freed with the request, traceback and all

    assert gc.isenabled()
    asyncio.run(main())


def test_a_workflow_that_draws_only_video_gets_its_cover_as_thumbnail(tmp_path):
    """The lesson's slides and presenter are video: no picture node stands for it, so its
    thumbnail run is the workflow up to its cover image, and the PNG is shrunk to fit."""
    import json

    from reelgraph.engine import Registry
    from reelgraph.server.thumbnails import THUMB_SIZE, shrink, thumbnail_workflow

    root = Path(__file__).resolve().parents[2] / "reelgraph" / "workflows"
    reg = Registry.discover()
    lesson = json.loads((root / "lesson.json").read_text())
    thumb = thumbnail_workflow(lesson, reg)
    assert thumb is not None and thumb["targets"] == ["cover"]
    assert thumb["nodes"] == lesson["nodes"]  # run as it is, to the cover
    explainer = json.loads((root / "explainer.json").read_text())
    assert thumbnail_workflow(explainer, reg)["targets"] == ["__thumbnail__"]  # its title card
    cover = tmp_path / "cover.png"
    Image.new("RGB", (1280, 720), (200, 30, 30)).save(cover)
    shrink(cover, tmp_path / "thumb.png")
    with Image.open(tmp_path / "thumb.png") as im:
        assert im.size == THUMB_SIZE and im.getpixel((10, 10)) == (200, 30, 30)


def test_what_each_kind_of_workflow_gets_as_its_gallery_picture(tmp_path, monkeypatch):
    """A video-only workflow with no cover (the presenter) gets a cover of what it encodes;
    an image workflow its saved picture; a diffusion workflow without weights a card naming
    the models; the card is a real picture, not a flat box."""
    import io
    import json

    from PIL import ImageStat

    from reelgraph.engine import Registry
    from reelgraph.server.api_app import _plan_thumbnail
    from reelgraph.server.thumbnails import draw_card, first_picture, thumbnail_workflow

    monkeypatch.setenv("REELGRAPH_MODELS", str(tmp_path))  # no weights here
    root = Path(__file__).resolve().parents[2] / "reelgraph" / "workflows"
    reg = Registry.discover()
    presenter = json.loads((root / "presenter.json").read_text())
    thumb = thumbnail_workflow(presenter, reg)
    assert thumb["targets"] == ["__thumb_cover__"]
    cover = thumb["nodes"]["__thumb_cover__"]["inputs"]
    assert cover["video"] == presenter["nodes"]["encode"]["inputs"]["video"]
    assert cover["at_seconds"] < 0  # the best frame, not frame 0 of a fade
    demo = json.loads((root / "demo_image.json").read_text())
    assert first_picture(demo, reg) == "thumb"  # what it saves, not the solid it starts from
    story = json.loads((root / "story.json").read_text())
    plan = _plan_thumbnail(story, reg, root / "story.json")
    assert plan.workflow is None and plan.card == "Needs a model"
    assert plan.lines == [
        "stabilityai/stable-diffusion-xl-base-1.0",
        "stabilityai/stable-video-diffusion-img2vid-xt",
    ]
    with Image.open(io.BytesIO(draw_card(story, "story", plan))) as im:
        assert im.size == (960, 540) and max(ImageStat.Stat(im.convert("RGB")).stddev) > 12
    # a shipped workflow whose assets lie beside it plans a run (they were not found)
    ad = _plan_thumbnail(json.loads((root / "ad.json").read_text()), reg, root / "ad.json")
    assert ad.workflow is not None and ad.workflow["targets"] == ["__thumbnail__"]
