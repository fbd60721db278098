"""Seeds, uploads, groups, reroutes and drafts."""

from __future__ import annotations

from pathlib import Path

from .conftest import Editor, Server, link, workflow


def test_seed_modes_apply_at_queue_time_and_are_stored(editor: Editor, server: Server) -> None:
    server.put_workflow(
        "seeded",
        workflow(
            {
                "s": {
                    "type": "edtest.Seeded",
                    "type_version": 1,
                    "inputs": {"seed": 5, "picture": ""},
                    "ui": {"pos": [40, 40]},
                }
            }
        ),
    )
    page = editor.page
    editor.open("?workflow=seeded")
    mode = editor.node("s").locator(".seedmode")
    assert mode.input_value() == "fixed"
    mode.select_option("increment")
    assert editor.doc()["nodes"]["s"]["ui"]["seed_modes"] == {"seed": "increment"}
    runs: list[str] = []
    for expected in (6, 7):
        page.mouse.click(600, 700)
        page.keyboard.press("Control+Enter")
        page.wait_for_function(f"window.reelgraph.current.doc.nodes.s.inputs.seed === {expected}")
        # the seed changes before the run is posted: wait for this run's id, not the last one's
        page.wait_for_function(
            """(seen) => { const r = window.reelgraph.current.run;
            return r && r.id && !seen.includes(r.id); }""",
            arg=runs,
        )
        runs.append(page.evaluate("window.reelgraph.current.run.id"))
    # the queued workflow carries the seed it was queued with
    seeds = [
        server.request("GET", f"/api/runs/{r}")["workflow"]["nodes"]["s"]["inputs"]["seed"]
        for r in runs
    ]
    assert seeds == [6, 7]
    mode.select_option("randomize")
    page.mouse.click(600, 700)
    page.keyboard.press("Control+Enter")
    page.wait_for_function("window.reelgraph.current.doc.nodes.s.inputs.seed !== 7")
    seed = editor.doc()["nodes"]["s"]["inputs"]["seed"]
    assert isinstance(seed, int) and 0 <= seed <= 2**53
    # stored in the workflow when saved
    page.keyboard.press("Control+s")
    page.wait_for_function("!window.reelgraph.current.dirty")
    assert server.saved("seeded")["nodes"]["s"]["ui"]["seed_modes"] == {"seed": "randomize"}


def test_upload_picker_sends_the_file_and_fills_the_input(
    editor: Editor, server: Server, tmp_path: Path
) -> None:
    from PIL import Image

    picture = tmp_path / "photo.png"
    Image.new("RGB", (8, 8), (200, 10, 10)).save(picture)
    server.put_workflow(
        "upload",
        workflow(
            {
                "s": {
                    "type": "edtest.Seeded",
                    "type_version": 1,
                    "inputs": {"seed": 1, "picture": ""},
                    "ui": {"pos": [40, 40]},
                }
            }
        ),
    )
    page = editor.page
    editor.open("?workflow=upload")
    with page.expect_file_chooser() as chooser:
        editor.node("s").locator('.row[data-input="picture"] .upload').click()
    chooser.value.set_files(str(picture))
    page.wait_for_function("window.reelgraph.current.doc.nodes.s.inputs.picture !== ''")
    value = editor.doc()["nodes"]["s"]["inputs"]["picture"]
    assert (
        Path(value).parent == (server.data / "uploads").resolve()
        and Path(value).read_bytes() == picture.read_bytes()
    )
    assert editor.node("s").locator('.row[data-input="picture"] input').input_value() == value


def test_groups_move_their_nodes_and_reroutes_are_kept(editor: Editor, server: Server) -> None:
    server.put_workflow(
        "grouping",
        workflow(
            {
                "a": {
                    "type": "image.Solid",
                    "type_version": 1,
                    "inputs": {"width": 8, "height": 8, "color": "#fff", "batch": 1},
                    "ui": {"pos": [40, 60]},
                },
                "b": {
                    "type": "image.Blur",
                    "type_version": 1,
                    "inputs": {"image": link("a", "image"), "sigma": 1.0},
                    "ui": {"pos": [400, 60]},
                },
            },
            groups=[],
            notes=[],
        ),
    )
    page = editor.page
    editor.open("?workflow=grouping")
    page.keyboard.press("Control+a")
    page.keyboard.press("Control+g")
    doc = editor.doc()
    assert len(doc["groups"]) == 1
    gx, gy = editor.center(page.locator(".group .gtitle"))
    editor.drag((gx, gy), (gx + 100, gy + 80))
    moved = editor.doc()
    zoom = page.evaluate("window.reelgraph.editor.view.zoom")
    for nid in ("a", "b"):
        dx = moved["nodes"][nid]["ui"]["pos"][0] - doc["nodes"][nid]["ui"]["pos"][0]
        dy = moved["nodes"][nid]["ui"]["pos"][1] - doc["nodes"][nid]["ui"]["pos"][1]
        assert abs(dx - 100 / zoom) <= 20 and abs(dy - 80 / zoom) <= 20, (nid, dx, dy)
    assert (
        moved["groups"][0]["bounds"][0] - doc["groups"][0]["bounds"][0]
        == moved["nodes"]["a"]["ui"]["pos"][0] - doc["nodes"]["a"]["ui"]["pos"][0]
    )
    # double-click the wire: a reroute point, stored with the input it belongs to
    path = page.locator('[data-link="a.image->b.image"]')
    assert path.count() == 1
    point = page.evaluate("""() => { const p = document.querySelector('[data-link="a.image->b.image"]');
        const m = p.getPointAtLength(p.getTotalLength() / 2), c = p.getScreenCTM();
        return [m.x * c.a + c.e, m.y * c.d + c.f]; }""")
    page.mouse.dblclick(*point)
    reroutes = editor.doc()["nodes"]["b"]["ui"]["reroutes"]["image"]
    assert len(reroutes) == 1
    assert page.locator(".reroute").count() == 1
    page.keyboard.press("Control+s")
    page.wait_for_function("!window.reelgraph.current.dirty")
    saved = server.saved("grouping")
    assert saved["nodes"]["b"]["ui"]["reroutes"] == {"image": reroutes}
    assert saved["groups"] == moved["groups"]


def test_unsaved_work_survives_a_reload_as_a_draft(editor: Editor, server: Server) -> None:
    page = editor.page
    editor.open()
    node = editor.add_node("Solid", 400, 400)
    # drafts are written shortly after an edit
    page.wait_for_function(
        f"(localStorage.getItem('reelgraph.drafts.v1') || '').includes('\"{node}\"')"
    )
    page.reload()
    page.wait_for_function("document.body.classList.contains('ready')")
    assert page.locator(f'[data-node-id="{node}"]').count() == 1
    assert "dirty" in (page.locator(".tab.on").get_attribute("class") or "")
    assert "unsaved draft" in page.locator(".toasts").inner_text()


def test_live_progress_and_cancel(editor: Editor, server: Server) -> None:
    server.put_workflow(
        "slow",
        workflow(
            {
                "slow": {
                    "type": "edtest.Slow",
                    "type_version": 1,
                    "inputs": {"steps": 400, "delay": 0.05},
                    "ui": {"pos": [40, 40]},
                }
            }
        ),
    )
    page = editor.page
    editor.open("?workflow=slow")
    page.locator(".queue").click()
    node = editor.node("slow")
    page.wait_for_function(
        """() => { const n = document.querySelector('[data-node-id="slow"]');
        return n.classList.contains('st-running') && parseFloat(n.querySelector('.nprogress i').style.width) > 0; }""",
        timeout=60000,
    )
    assert "/400" in node.locator(".nbadge").inner_text()
    # a reload while it runs: the tab comes back and shows the live run again
    page.reload()
    page.wait_for_function("document.body.classList.contains('ready')")
    page.wait_for_function(
        """() => { const n = document.querySelector('[data-node-id="slow"]');
        return n && n.classList.contains('st-running'); }""",
        timeout=30000,
    )
    cancel = page.locator("button.cancel")
    assert cancel.is_enabled()
    cancel.click()
    page.locator(".toast", has_text="Run cancelled").wait_for(timeout=30000)
    page.wait_for_function(
        "document.querySelector('[data-node-id=\"slow\"]').classList.contains('st-cancelled')"
    )
    assert node.locator(".nbadge").inner_text() == "cancelled"
    assert cancel.is_disabled()
    page.locator(".sidetabs button[data-panel=queue]").click()
    page.locator(".runitem.st-cancelled").first.wait_for()


def test_resize_a_node_and_undo_it(editor: Editor, server: Server) -> None:
    server.put_workflow(
        "resize",
        workflow(
            {
                "a": {
                    "type": "image.Solid",
                    "type_version": 1,
                    "inputs": {"width": 8, "height": 8, "color": "#fff", "batch": 1},
                    "ui": {"pos": [40, 40]},
                }
            }
        ),
    )
    page = editor.page
    editor.open("?workflow=resize")
    before = editor.doc()
    handle = editor.node("a").locator(".nwresize")
    w0 = editor.node("a").bounding_box()["width"]
    x, y = editor.center(handle)
    editor.drag((x, y), (x + 120, y))
    w1 = editor.node("a").bounding_box()["width"]
    assert w1 > w0 + 60
    assert editor.doc()["nodes"]["a"]["ui"]["width"] > 220
    # sockets follow: the output socket sits on the new right edge
    sock = editor.socket("a", "out", "image").bounding_box()
    box = editor.node("a").bounding_box()
    assert abs(sock["x"] + sock["width"] / 2 - (box["x"] + box["width"])) < 3
    page.keyboard.press("Control+z")
    assert editor.doc() == before


def test_templates_export_and_import(editor: Editor, server: Server, tmp_path: Path) -> None:
    import json

    page = editor.page
    editor.open()
    page.locator(".sidetabs button[data-panel=workflows]").click()
    page.locator('.wf[data-kind="template"][data-name="demo_image"]').click()
    page.wait_for_function("window.reelgraph.current.doc.name === 'Image basics'")
    template = json.loads(
        (
            Path(__file__).resolve().parents[2] / "reelgraph" / "workflows" / "demo_image.json"
        ).read_text()
    )
    assert editor.doc()["nodes"] == template["nodes"]
    assert page.locator("[data-node-id]").count() == len(template["nodes"])
    with page.expect_download() as download:
        page.locator("button[data-act=export]").click()
    exported = tmp_path / "exported.json"
    download.value.save_as(exported)
    doc = json.loads(exported.read_text())
    assert doc["nodes"] == template["nodes"] and doc["params"] == template["params"]
    assert set(doc["ui"]["viewport"]) == {"x", "y", "zoom"}
    tabs = page.locator(".tab").count()
    with page.expect_file_chooser() as chooser:
        page.locator("button[data-act=import]").click()
    chooser.value.set_files(str(exported))
    page.wait_for_function(f"document.querySelectorAll('.tab').length === {tabs + 1}")
    assert editor.doc()["nodes"] == template["nodes"]
    assert "dirty" in (
        page.locator(".tab.on").get_attribute("class") or ""
    )  # imported, not saved yet


def test_alt_drag_drags_a_copy(editor: Editor, server: Server) -> None:
    server.put_workflow(
        "altdrag",
        workflow(
            {
                "a": {
                    "type": "image.Solid",
                    "type_version": 1,
                    "inputs": {"width": 8, "height": 8, "color": "#fff", "batch": 1},
                    "ui": {"pos": [40, 60]},
                },
                "b": {
                    "type": "image.Blur",
                    "type_version": 1,
                    "inputs": {"image": link("a", "image"), "sigma": 2.5},
                    "ui": {"pos": [340, 60]},
                },
            }
        ),
    )
    page = editor.page
    editor.open("?workflow=altdrag")
    x, y = editor.center(editor.node("b").locator(".ntitle"))
    page.keyboard.down("Alt")
    editor.drag((x, y), (x + 40, y + 200))
    page.keyboard.up("Alt")
    doc = editor.doc()
    assert doc["nodes"]["b"]["ui"]["pos"] == [340, 60]  # the original stays
    (copy,) = set(doc["nodes"]) - {"a", "b"}
    assert (
        doc["nodes"][copy]["type"] == "image.Blur" and doc["nodes"][copy]["inputs"]["sigma"] == 2.5
    )
    assert doc["nodes"][copy]["ui"]["pos"][1] > 160
    # links from outside the copied selection are kept on the copy
    assert doc["nodes"][copy]["inputs"]["image"] == {"from": "a", "output": "image"}
