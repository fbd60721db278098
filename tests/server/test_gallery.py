"""The template gallery on a real server with the shipped workflows as its templates: every
card gets a real picture, and a shipped workflow runs from its form, a batch and a still
with the values the form shows (its assets lie beside the template, not in the server's
working folder)."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest
from PIL import Image, ImageStat

from .conftest import REPO, ServerProcess, prepare_folder

SHIPPED = sorted(p.stem for p in (REPO / "reelgraph" / "workflows").glob("*.json"))
# diffusion workflows: their pictures need model weights this machine does not have
NEEDS_MODEL = {"story", "txt2vid"}


def _picture(body: bytes) -> Image.Image:
    assert body[:8] == b"\x89PNG\r\n\x1a\n" or body[:3] == b"\xff\xd8\xff", body[:80]
    im = Image.open(io.BytesIO(body))
    im.load()
    return im.convert("RGB")


@pytest.mark.slow
def test_every_shipped_workflow_gets_a_real_thumbnail_made_once(shipped: ServerProcess) -> None:
    assert {"ad", "presenter", "slideshow", "story", "txt2vid"} <= set(SHIPPED)
    # two gallery tabs at once: one thumbnail run per workflow, not two
    first = {name: shipped.get(f"/api/app/{name}/thumbnail").status for name in SHIPPED}
    again = {name: shipped.get(f"/api/app/{name}/thumbnail").status for name in SHIPPED}
    assert set(first.values()) <= {200, 202} and set(again.values()) <= {200, 202}
    pictures: dict[str, tuple[Image.Image, str]] = {}
    deadline = time.monotonic() + 420
    while len(pictures) < len(SHIPPED):
        for name in SHIPPED:
            if name in pictures:
                continue
            r = shipped.get(f"/api/app/{name}/thumbnail")
            assert r.status in (200, 202), (name, r.status, r.body[:300])
            if r.status == 200:
                pictures[name] = (_picture(r.body), r.headers["X-Thumbnail"])
        assert time.monotonic() < deadline, sorted(set(SHIPPED) - set(pictures))
        time.sleep(0.5)
    for name, (im, how) in pictures.items():
        assert min(im.size) >= 100, (name, im.size)
        spread = max(ImageStat.Stat(im).stddev)
        assert spread > 12, f"{name}: its thumbnail is one flat colour ({spread:.1f})"
        assert how == ("card" if name in NEEDS_MODEL else "frame"), (name, how)
    runs = shipped.get("/api/runs?limit=200").json()["runs"]
    made = [r["name"] for r in runs if r["name"].startswith("thumbnail: ")]
    assert sorted(made) == sorted(f"thumbnail: {n}" for n in SHIPPED if n not in NEEDS_MODEL)
    assert all(r["status"] == "finished" for r in runs if r["name"].startswith("thumbnail: "))
    # made once: asked again, each is served from the data folder and nothing is queued
    for name in SHIPPED:
        r = shipped.get(f"/api/app/{name}/thumbnail")
        assert r.status == 200 and r.headers["Content-Type"] == "image/png"
    assert len(shipped.get("/api/runs?limit=200").json()["runs"]) == len(runs)
    folder = shipped.data / "thumbnails"
    assert not [p for p in folder.iterdir() if ".tmp" in p.name or p.name.startswith(".")]


def test_a_shipped_workflow_runs_from_its_form_values_and_by_name_in_a_batch(
    shipped: ServerProcess,
) -> None:
    """The form sends every field, defaults included: `assets/slides` and `assets/logo.png`
    are the template's own values and resolve beside it (they were refused as missing)."""
    form = {f["name"]: f["default"] for f in shipped.get("/api/app/slideshow").json()["fields"]}
    assert form["folder"] == "assets/slides"
    r = shipped.post("/api/runs", {"workflow": "slideshow", "params": form})
    assert r.status == 202, r.body
    shipped.request("DELETE", f"/api/runs/{r.json()['run_id']}")
    ad = {f["name"]: f["default"] for f in shipped.get("/api/app/ad").json()["fields"]}
    r = shipped.post("/api/runs", {"workflow": "ad", "params": ad})
    assert r.status == 202, r.body
    shipped.request("DELETE", f"/api/runs/{r.json()['run_id']}")
    # a batch of a template by name: its assets resolve the same way
    b = shipped.post(
        "/api/batches", {"workflow": "ad", "rows": [{"name": "Zoë", "logo": "assets/logo.png"}]}
    )
    assert b.status == 202, b.body
    assert shipped.request("DELETE", f"/api/batches/{b.json()['batch_id']}").status == 200
    # a value that is not the template's own stays the user's: relative to the server
    r = shipped.post("/api/runs", {"workflow": "ad", "params": {"logo": "assets/other.png"}})
    assert r.status == 400 and "assets/other.png" in json.dumps(r.json())


def test_thumbnail_runs_wait_behind_runs_people_queued(tmp_path: Any) -> None:
    from reelgraph.server.store import RunStore

    store = RunStore(tmp_path / "runs.db")
    store.add("t1", {}, {}, None, "thumbnail: explainer")
    store.add("u1", {}, {}, None, "explainer")
    store.add("t2", {}, {}, None, "thumbnail: short")
    store.add("u2", {}, {}, None, "preview: ad")
    assert [store.queue_position(i) for i in ("u1", "u2", "t1", "t2")] == [1, 2, 3, 4]
    assert [store.claim_next()["id"] for _ in range(4)] == ["u1", "u2", "t1", "t2"]
    store.close()


def test_a_model_workflows_card_gives_way_to_a_frame_of_its_first_run(tmp_path: Any) -> None:
    from .conftest import IMAGE_WF

    prepare_folder(tmp_path)
    srv = ServerProcess(
        tmp_path / "data", extra=["--templates", str(REPO / "reelgraph" / "workflows")]
    ).start()
    try:
        card = srv.get("/api/app/txt2vid/thumbnail")
        assert card.status == 200 and card.headers["X-Thumbnail"] == "card"
        # a finished run of that workflow (here a small picture, named as the app names it)
        run = srv.wait_run(srv.queue(IMAGE_WF, name="txt2vid"))
        assert run["status"] == "finished", run.get("error")
        frame = srv.get("/api/app/txt2vid/thumbnail")
        assert frame.status == 200 and frame.headers["X-Thumbnail"] == "frame"
        assert _picture(frame.body).getpixel((2, 2))[0] > 200  # the run's orange picture
    finally:
        srv.stop()
