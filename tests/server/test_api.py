"""The REST API against a real server: nodes, types, workflows, runs, files, uploads."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

from PIL import Image

from .conftest import IMAGE_WF, link, slow_wf, wf
from .samples import wav_bytes


def test_system_answers_with_versions_and_queue(server):
    r = server.get("/api/system")
    assert r.status == 200
    s = r.json()
    assert s["versions"]["python"] and s["versions"]["aiohttp"]
    assert s["devices"][0]["type"] == "cpu"
    assert s["queue"]["length"] >= 0
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_nodes_have_everything_the_editor_needs(server):
    nodes = {n["id"]: n for n in server.get("/api/nodes").json()["nodes"]}
    blur = nodes["image.Blur"]
    assert blur["category"] == "image/filter" and blur["description"] and blur["version"] == 1
    sigma = next(i for i in blur["inputs"] if i["name"] == "sigma")
    assert sigma["widget"] == {"kind": "FLOAT", "min": 0.0, "max": 100.0, "step": 0.1}
    assert sigma["default"] == 1.0
    image = next(i for i in blur["inputs"] if i["name"] == "image")
    assert image["type"] == "IMAGE" and "widget" not in image
    mode = next(i for i in nodes["image.Blend"]["inputs"] if i["name"] == "mode")
    assert "multiply" in mode["widget"]["options"]
    assert nodes["image.SavePNG"]["outputs"] == [{"name": "paths", "type": "list[PATH]"}]
    assert nodes["image.Preview"]["output_node"] is True
    assert "rgtest.Slow" in nodes  # custom nodes folder loaded


def test_types_document(server):
    t = server.get("/api/types").json()
    assert t["types"]["IMAGE"]["color"].startswith("#")
    assert ["INT", "FLOAT"] in t["widening"]


def test_openapi_lists_every_route(server):
    doc = server.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for path in (
        "/api/nodes",
        "/api/types",
        "/api/workflows",
        "/api/workflows/{name}",
        "/api/runs",
        "/api/runs/{run_id}",
        "/api/runs/{run_id}/cancel",
        "/api/files/{kind}/{path}",
        "/api/uploads",
        "/api/system",
        "/api/workflows/validate",
    ):
        assert path in doc["paths"], path


def test_workflow_save_load_backup_delete(server):
    doc = wf(
        {
            "a": {"type": "image.Solid", "inputs": {"width": 8}, "ui": {"pos": [1, 2]}},
            "z": {"type": "somepack.Unknown", "inputs": {"x": 1}},
        },
        extra_key={"kept": True},
    )
    r = server.request("PUT", "/api/workflows/my%20flow", doc)
    assert r.status == 201, r.body
    assert any(i["code"] == "unknown_node_type" for i in r.json()["issues"])  # saved anyway
    got = server.get("/api/workflows/my%20flow").json()
    assert got["extra_key"] == {"kept": True} and got["nodes"]["z"]["type"] == "somepack.Unknown"
    doc2 = wf({"a": {"type": "image.Solid", "inputs": {"width": 16}}})
    assert server.request("PUT", "/api/workflows/my%20flow", doc2).status == 200
    assert server.get("/api/workflows/my%20flow").json()["nodes"]["a"]["inputs"]["width"] == 16
    backup = json.loads((server.data / "workflows" / ".backups" / "my flow.json").read_text())
    assert backup["nodes"]["a"]["inputs"]["width"] == 8
    listing = server.get("/api/workflows").json()
    assert "my flow" in [w["name"] for w in listing["workflows"]]
    assert [t["name"] for t in listing["templates"]] == ["image-demo"]
    assert server.get("/api/templates/image-demo").json()["nodes"]["b"]["type"] == "image.Blur"
    assert server.request("DELETE", "/api/workflows/my%20flow").status == 200
    assert server.get("/api/workflows/my%20flow").status == 404
    assert (server.data / "workflows" / ".backups" / "my flow.json").exists()
    # no temp files left behind by the atomic writes
    assert not [p for p in (server.data / "workflows").iterdir() if p.name.endswith(".tmp")]


def test_workflow_put_rejects_non_workflows(server):
    r = server.request("PUT", "/api/workflows/bad", {"nodes": []})
    assert r.status == 400
    codes = {i["code"] for i in r.json()["issues"]}
    assert {"unknown_format", "bad_nodes"} <= codes
    assert server.request("PUT", "/api/workflows/bad", raw=b"{not json").status == 400
    assert server.request("PUT", "/api/workflows/.hidden", IMAGE_WF).status == 400


def test_validate_reports_every_problem(server):
    doc = wf({"b": {"type": "image.Blur", "inputs": {"sigma": 500}}, "c": {"type": "image.Blurr"}})
    res = server.post("/api/workflows/validate", doc).json()
    assert res["ok"] is False
    found = {(i["code"], i.get("node"), i.get("input")) for i in res["issues"]}
    assert ("missing_input", "b", "image") in found
    assert ("bad_value", "b", "sigma") in found
    assert ("unknown_node_type", "c", None) in found
    assert res["counts"]["errors"] == len([i for i in res["issues"] if i["severity"] == "error"])
    assert res["counts"]["by_code"]["unknown_node_type"] == 1
    assert server.post("/api/workflows/validate", IMAGE_WF).json() == {
        "ok": True,
        "issues": [],
        "counts": {"errors": 0, "warnings": 0, "by_code": {}},
    }


def test_thousands_of_problems_are_listed_in_part_and_counted_exactly(server):
    nodes = {
        f"n{i}": {"type": "image.Blur", "inputs": {"image": link(f"gone{i}", "image")}}
        for i in range(1500)
    }
    nodes.update({f"u{i}": {"type": f"nope.Type{i}"} for i in range(20)})
    for path, body in (
        ("/api/workflows/validate", wf(nodes)),
        ("/api/runs", {"workflow": wf(nodes)}),
    ):
        r = server.post(path, body)
        assert r.status == (200 if path.endswith("validate") else 400), r.body[:300]
        answer = r.json()
        counts = answer["counts"]
        assert counts["errors"] == 1520 and counts["warnings"] == 0
        assert counts["by_code"] == {"unknown_node_type": 20, "missing_link_node": 1500}
        issues = answer["issues"]
        assert len(issues) == 1001
        more = issues[-1]
        assert more["code"] == "more_issues" and more["severity"] == "error"
        assert "and 520 more problems, not listed" in more["message"], more["message"]
        listed = [i for i in issues[:-1] if i["code"] == "missing_link_node"]
        assert all(i["node"] and i["input"] == "image" for i in listed)


def test_invalid_run_is_400_with_every_error(server):
    doc = wf(
        {
            "b": {"type": "image.Blur", "inputs": {"image": link("nope", "image"), "sigma": -1}},
            "s": {"type": "image.Solid", "inputs": {"width": "wide"}},
        }
    )
    r = server.post("/api/runs", {"workflow": doc})
    assert r.status == 400
    issues = r.json()["issues"]
    found = {(i["node"], i.get("input")) for i in issues}
    assert ("b", "image") in found and ("b", "sigma") in found and ("s", "width") in found
    assert all(i["message"] for i in issues)
    assert server.post("/api/runs", {"workflow": "no-such-saved-flow"}).status == 404
    assert server.post("/api/runs", {"workflow": IMAGE_WF, "params": []}).status == 400
    assert server.post("/api/runs", {"workflow": IMAGE_WF, "targets": "s"}).status == 400
    assert server.post("/api/runs", {"workflow": IMAGE_WF, "bogus": 1}).status == 400
    assert server.post("/api/runs", {"workflow": IMAGE_WF, "targets": ["zz"]}).status == 400


def test_run_outputs_files_with_range_requests(server):
    run_id = server.queue("image-demo")  # a template, by name
    run = server.wait_run(run_id)
    assert run["status"] == "finished", run
    assert run["nodes"]["b"]["state"] == "finished" and run["nodes"]["b"]["seconds"] >= 0
    files = run["outputs"]["s"]["paths"]
    assert len(files) == 1 and files[0]["url"] == f"/api/files/outputs/{run_id}/frame_00000.png"
    full = server.get(files[0]["url"])
    assert full.status == 200 and full.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(full.body)).size == (64, 48)
    part = server.get(files[0]["url"], headers={"Range": "bytes=10-19"})
    assert part.status == 206 and part.body == full.body[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(full.body)}"
    tail = server.get(files[0]["url"], headers={"Range": "bytes=-5"})
    assert tail.status == 206 and tail.body == full.body[-5:]
    assert (
        server.get(files[0]["url"], headers={"Range": f"bytes={len(full.body) + 10}-"}).status
        == 416
    )
    assert run["files"] == [
        {
            "file": f"outputs/{run_id}/frame_00000.png",
            "url": files[0]["url"],
            "size": len(full.body),
        }
    ]
    # no staging leftovers once published
    assert not (server.data / "outputs" / ".partial" / run_id).exists()
    cache = server.get("/api/system").json()["cache"]
    assert cache["memory"]["entries"] > 0 and "disk" in cache


def test_params_and_targets(server):
    doc = slow_wf(1, 0.0, "a")
    doc["nodes"]["t"] = {"type": "rgtest.Slow", "inputs": {"steps": 1, "delay": 0.0, "label": "t"}}
    doc["params"] = {"label": {"node": "s", "input": "label", "type": "TEXT", "default": "d"}}
    run = server.wait_run(server.queue(doc, params={"label": "hello"}, targets=["s"]))
    assert run["status"] == "finished"
    assert run["outputs"] == {"s": {"text": "hello:1"}}
    assert run["nodes"]["t"]["state"] == "not_run"
    r = server.post("/api/runs", {"workflow": doc, "params": {"nope": 1}})
    assert r.status == 400 and r.json()["issues"][0]["code"] == "unknown_param"


def test_failed_run_names_the_node(server):
    doc = wf({"f": {"type": "rgtest.Fail", "inputs": {"message": "it broke"}}})
    run = server.wait_run(server.queue(doc))
    assert run["status"] == "failed"
    assert run["error"]["node_id"] == "f" and "it broke" in run["error"]["message"]
    assert run["nodes"]["f"]["state"] == "failed"
    assert "it broke" in run["nodes"]["f"]["error"]["message"]


def test_history_paging_and_delete(server):
    ids = [server.queue(slow_wf(1, 0.0, f"p{i}")) for i in range(5)]
    for i in ids:
        server.wait_run(i)
    page = server.get("/api/runs?limit=2").json()
    assert len(page["runs"]) == 2 and page["total"] >= 5 and page["next_offset"] == 2
    assert [r["id"] for r in page["runs"]] == ids[::-1][:2]  # newest first
    page2 = server.get("/api/runs?limit=2&offset=2").json()
    assert [r["id"] for r in page2["runs"]] == ids[::-1][2:4]
    assert all(
        r["status"] == "finished" for r in server.get("/api/runs?status=finished").json()["runs"]
    )
    oldest = server.get("/api/runs?status=finished&order=oldest&limit=500").json()["runs"]
    assert [r["id"] for r in oldest if r["id"] in ids] == ids
    assert server.get("/api/runs?order=sideways").status == 400
    assert server.get("/api/runs?limit=0").status == 400
    assert server.get("/api/runs?status=weird").status == 400
    assert server.request("DELETE", f"/api/runs/{ids[0]}").status == 200
    assert server.get(f"/api/runs/{ids[0]}").status == 404
    assert server.request("DELETE", f"/api/runs/{ids[0]}").status == 404


def test_delete_cancels_active_runs_first(server):
    running = server.queue(slow_wf(2000, 0.01))
    queued = server.queue(slow_wf(2000, 0.01, "behind"))
    server.wait_run(running, ("running",))
    # a queued run and a running one: both are cancelled, then deleted
    for run_id in (queued, running):
        r = server.request("DELETE", f"/api/runs/{run_id}")
        assert r.status == 200, r.body
        assert server.get(f"/api/runs/{run_id}").status == 404
    done = server.queue(slow_wf(2, 0.0))
    assert server.wait_run(done)["status"] == "finished"
    assert server.post(f"/api/runs/{done}/cancel").status == 409


def _png(w: int = 4, h: int = 3) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (10, 20, 30)).save(buf, format="PNG")
    return buf.getvalue()


def _multipart(field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = "rgtestboundary7d3"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def test_upload_sniffs_content_not_name(server):
    body, ctype = _multipart("file", "holiday.txt", _png())
    r = server.post("/api/uploads", raw=body, headers={"Content-Type": ctype})
    assert r.status == 201, r.body
    up = r.json()
    assert up["kind"] == "image" and up["mime"] == "image/png" and up["name"].endswith(".png")
    assert up["name"].startswith("holiday-")
    got = server.get(up["url"])
    assert got.status == 200 and got.body == _png()
    # an HTML page named like an image is refused
    body, ctype = _multipart("file", "cat.png", b"<html><script>alert(1)</script></html>")
    assert server.post("/api/uploads", raw=body, headers={"Content-Type": ctype}).status == 415
    # raw body upload, hostile file name
    r = server.post(
        "/api/uploads?filename=../../evil.wav",
        raw=wav_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status == 201 and r.json()["kind"] == "audio"
    assert "/" not in r.json()["name"] and not (server.data / "evil.wav").exists()
    listed = {u["name"]: u for u in server.get("/api/uploads").json()["uploads"]}
    assert up["name"] in listed and r.json()["name"] in listed
    assert listed[up["name"]]["path"] == up["path"]  # what a node's file input takes
    assert (
        server.post(
            "/api/uploads", raw=b"", headers={"Content-Type": "application/octet-stream"}
        ).status
        == 400
    )


def test_upload_size_cap(make_server):
    srv = make_server(extra=["--max-upload-mb", "1"])
    big = _png() + b"\0" * (2 << 20)
    body, ctype = _multipart("file", "big.png", big)
    r = srv.post("/api/uploads", raw=body, headers={"Content-Type": ctype})
    assert r.status == 413
    assert not [p for p in (srv.data / "uploads").iterdir()]  # no partial file kept
    assert srv.post("/api/runs", raw=b"{" + b" " * (40 << 20) + b"}").status == 413


def test_static_editor_page(server):
    r = server.get("/")
    assert r.status == 200 and b"reelgraph" in r.body.lower()
    assert server.get("/api/nowhere").status == 404


def test_api_stays_responsive_during_cpu_heavy_run(server):
    run_id = server.queue(
        wf({"x": {"type": "rgtest.Spin", "inputs": {"iterations": 400, "size": 384}}})
    )
    seen_running = False
    for _ in range(200):
        run = server.get(f"/api/runs/{run_id}").json()
        assert server.get("/api/runs?limit=5").status == 200
        if run["status"] == "running":
            seen_running = True
        if run["status"] in ("finished", "failed", "cancelled"):
            break
        time.sleep(0.02)
    assert seen_running
    server.post(f"/api/runs/{run_id}/cancel")
    server.wait_run(run_id)


def test_shipped_template_runs_by_name(shipped):
    srv = shipped
    templates = {t["name"]: t for t in srv.get("/api/workflows").json()["templates"]}
    assert "demo_image" in templates and templates["demo_image"]["params"]
    run = srv.wait_run(srv.queue("demo_image", params={"blur": 0.5}))
    assert run["status"] == "finished", run.get("error")
    files = [
        f
        for outs in run["outputs"].values()
        for v in outs.values()
        for f in (v if isinstance(v, list) else [v])
        if isinstance(f, dict) and f.get("url")
    ]
    assert files and all(srv.get(f["url"]).status == 200 for f in files)


def test_failed_run_keeps_finished_outputs_and_drops_partial_files(server):
    doc = dict(IMAGE_WF)
    doc["nodes"] = {
        **IMAGE_WF["nodes"],
        "w": {"type": "rgtest.WriteThenFail", "inputs": {"name": "broken.bin"}},
    }
    run = server.wait_run(server.queue(doc))
    assert run["status"] == "failed" and run["error"]["node_id"] == "w"
    assert run["nodes"]["s"]["state"] == "finished"
    url = run["outputs"]["s"]["paths"][0]["url"]
    assert server.get(url).status == 200
    folder = server.data / "outputs" / run["id"]
    assert sorted(p.name for p in folder.iterdir()) == ["frame_00000.png"]
    assert server.get(f"/api/files/outputs/{run['id']}/broken.bin").status == 404


def test_non_json_constants_and_deep_nesting_are_400(server):
    assert (
        server.post("/api/runs", raw=b'{"workflow": "image-demo", "params": {"x": NaN}}').status
        == 400
    )
    assert server.post("/api/workflows/validate", raw=b"[" * 100000 + b"]" * 100000).status == 400
    assert server.get("/api/system").status == 200


def test_reelgraph_serve_command(make_server):
    """The `serve` subcommand reaches the CLI through the reelgraph.commands entry point."""
    import sys
    from pathlib import Path

    srv = make_server(command=[str(Path(sys.executable).parent / "reelgraph"), "serve"])
    system = srv.get("/api/system").json()
    assert system["version"] and system["queue"]["length"] == 0
    assert srv.wait_run(srv.queue(slow_wf(1, 0.0)))["status"] == "finished"


def test_template_assets_resolve_beside_the_template(shipped):
    """slideshow.json names assets/... relative to itself; the server runs from elsewhere."""
    srv = shipped
    doc = srv.get("/api/templates/slideshow").json()
    folder = Path(doc["nodes"]["images"]["inputs"]["folder"])
    assert folder.is_absolute() and folder.is_dir() and folder.name == "slides"
    # Queued by name, it validates (the assets are found); stop it before it renders.
    run_id = srv.queue("slideshow")
    srv.request("DELETE", f"/api/runs/{run_id}")
