"""Editing in the browser: typed links, undo/redo, placeholders, params, dropped outputs, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO, Editor, Server, link, workflow

IMAGE_WF = workflow(
    {
        "base": {
            "type": "image.Solid",
            "type_version": 1,
            "inputs": {"width": 32, "height": 24, "color": "#00ff00", "batch": 1},
            "ui": {"pos": [40, 60]},
        },
        "blur": {
            "type": "image.Blur",
            "type_version": 1,
            "inputs": {"image": link("base", "image"), "sigma": 1.0},
            "ui": {"pos": [340, 60]},
        },
        "save": {
            "type": "image.SavePNG",
            "type_version": 1,
            "inputs": {"image": link("blur", "image"), "prefix": "img"},
            "ui": {"pos": [640, 60]},
        },
    },
    name="Image test",
    params={},
    groups=[],
    notes=[],
)


@pytest.fixture(scope="module")
def image_wf(server: Server) -> str:
    server.put_workflow("imagetest", IMAGE_WF)
    return "imagetest"


def test_nodes_and_links_come_from_the_document(editor: Editor, image_wf: str) -> None:
    editor.open(f"?workflow={image_wf}")
    assert editor.page.locator("[data-node-id]").count() == 3
    links = sorted(
        editor.page.locator("[data-link]").evaluate_all("els => els.map(e => e.dataset.link)")
    )
    assert links == ["base.image->blur.image", "blur.image->save.image"]
    # widgets from the schema, with the document's values
    assert editor.node("base").locator('.row[data-input="width"] .wv').inner_text() == "32"
    assert editor.node("base").locator('.row[data-input="color"] input').input_value() == "#00ff00"
    assert editor.node("blur").locator('.row[data-input="sigma"] .wv').inner_text() == "1.0"
    # sockets are coloured by type (IMAGE's colour from /api/types)
    image_color = editor.server.request("GET", "/api/types")["types"]["IMAGE"]["color"]
    style = editor.socket("base", "out", "image").get_attribute("style")
    assert image_color in style


def test_wrong_type_link_is_refused_with_a_hint(editor: Editor, image_wf: str) -> None:
    editor.open(f"?workflow={image_wf}")
    before = editor.doc()
    # IMAGE output into the TEXT `prefix` input of SavePNG: refused
    editor.connect("base", "image", "save", "prefix")
    hint = editor.page.locator("#canvas .hint")
    assert hint.is_visible()
    assert "Cannot connect IMAGE to TEXT" in hint.inner_text()
    assert editor.doc() == before
    # a fitting link replaces the input's old one (one link per input)
    editor.connect("base", "image", "save", "image")
    assert editor.link("save", "image") == {"from": "base", "output": "image"}
    links = editor.page.locator("[data-link]").evaluate_all("els => els.map(e => e.dataset.link)")
    assert "base.image->save.image" in links and "blur.image->save.image" not in links
    # a widget input takes a link instead of its value (INT output widens into a FLOAT widget)
    split = editor.add_node("Split Scenes", 300, 700)
    editor.connect(split, "count", "blur", "sigma")
    assert editor.link("blur", "sigma") == {"from": split, "output": "count"}
    assert "linked" in (
        editor.node("blur").locator('.row[data-input="sigma"]').get_attribute("class") or ""
    )


def test_undo_redo_restores_exact_state(editor: Editor, image_wf: str) -> None:
    page = editor.page
    editor.open(f"?workflow={image_wf}")
    snaps = [editor.doc()]

    def step() -> None:
        snaps.append(editor.doc())
        assert snaps[-1] != snaps[-2], "the edit changed nothing"

    # 1 move a node by its header
    x, y = editor.center(editor.node("blur").locator(".ntitle"))
    editor.drag((x, y), (x + 80, y + 120))
    step()
    # 2 a number typed into a widget
    editor.set_number("blur", "sigma", 4.5)
    step()
    # 3 text typed into a widget
    field = editor.node("base").locator('.row[data-input="color"] input')
    field.fill("#123456")
    field.press("Enter")
    step()
    # 4 bypass and 5 collapse with the keyboard
    editor.node("blur").locator(".ntitle").click()
    page.keyboard.press("Control+b")
    step()
    page.keyboard.press("Alt+c")
    step()
    # 6 add a node from the palette (Tab)
    page.mouse.move(400, 700)
    page.keyboard.press("Tab")
    page.locator(".palette .psearch").type("invert")
    page.keyboard.press("Enter")
    page.wait_for_function("Object.keys(window.reelgraph.current.doc.nodes).length === 4")
    step()
    # 7 link it
    editor.connect("base", "image", "invert", "image")
    step()
    # 8 nudge the selection with an arrow key
    editor.node("base").locator(".ntitle").click()
    page.keyboard.press("ArrowRight")
    step()
    assert (
        snaps[-1]["nodes"]["base"]["ui"]["pos"][0]
        == snaps[-2]["nodes"]["base"]["ui"]["pos"][0] + 20
    )
    # 9 delete a node (its links go with it)
    editor.node("save").locator(".ntitle").click()
    page.keyboard.press("Delete")
    step()
    assert "save" not in snaps[-1]["nodes"]
    for i in range(len(snaps) - 1, 0, -1):
        page.keyboard.press("Control+z")
        assert editor.doc() == snaps[i - 1], f"undo {len(snaps) - i} did not restore step {i - 1}"
    page.keyboard.press("Control+z")  # nothing left: unchanged
    assert editor.doc() == snaps[0]
    assert page.locator("[data-node-id]").count() == 3
    for i in range(1, len(snaps)):
        page.keyboard.press("Control+Shift+z")
        assert editor.doc() == snaps[i], f"redo did not restore step {i}"
    assert page.locator("[data-node-id]").count() == len(snaps[-1]["nodes"])


def test_copy_paste_between_tabs_and_duplicate(editor: Editor, image_wf: str) -> None:
    page = editor.page
    editor.open(f"?workflow={image_wf}")
    editor.node("base").locator(".ntitle").click()
    editor.node("blur").locator(".ntitle").click(modifiers=["Shift"])
    page.keyboard.press("Control+c")
    page.locator(".newtab").click()
    assert page.locator(".tab").count() == 2
    page.mouse.move(500, 500)
    page.keyboard.press("Control+v")
    doc = editor.doc()
    assert sorted(n["type"] for n in doc["nodes"].values()) == ["image.Blur", "image.Solid"]
    (blur_id,) = [k for k, n in doc["nodes"].items() if n["type"] == "image.Blur"]
    (base_id,) = [k for k, n in doc["nodes"].items() if n["type"] == "image.Solid"]
    assert doc["nodes"][blur_id]["inputs"]["image"] == {"from": base_id, "output": "image"}
    page.keyboard.press("Control+d")  # duplicates the pasted (selected) pair
    assert len(editor.doc()["nodes"]) == 4


def test_dropping_a_wire_on_empty_canvas_offers_compatible_nodes(
    editor: Editor, image_wf: str
) -> None:
    page = editor.page
    editor.open(f"?workflow={image_wf}")
    start = editor.center(editor.socket("blur", "out", "image"))
    editor.drag(start, (start[0] + 150, start[1] + 300))
    palette = page.locator(".palette")
    assert palette.is_visible()
    assert "take IMAGE" in palette.locator(".pfilter").inner_text()
    offered = palette.locator(".pitem").evaluate_all(
        "els => els.map(e => e.dataset.type).filter(Boolean)"
    )
    assert "image.Invert" in offered and "video.ImageToClip" in offered
    assert "text.Script" not in offered and "tts.Speak" not in offered  # nothing that takes IMAGE
    palette.locator(".psearch").type("scale")
    page.keyboard.press("Enter")
    doc = editor.doc()
    (new,) = [k for k, n in doc["nodes"].items() if n["type"] == "image.Scale"]
    assert doc["nodes"][new]["inputs"]["image"] == {"from": "blur", "output": "image"}


def test_placeholders_keep_their_data_when_saved(editor: Editor, server: Server) -> None:
    magic = {
        "type": "acme.Magic",
        "type_version": 7,
        "inputs": {"src": link("base", "image"), "strength": [1, 2, 3]},
        "ui": {"pos": [400, 80], "acme": {"panel": "wide"}},
        "acme_meta": {"license": "x"},
    }
    doc = workflow(
        {
            "base": {
                "type": "image.Solid",
                "type_version": 1,
                "inputs": {"width": 16, "height": 16, "color": "#fff", "batch": 1},
                "ui": {"pos": [40, 80]},
                "comment": "kept",
            },
            "magic": magic,
            "after": {
                "type": "image.Blur",
                "type_version": 1,
                "inputs": {"image": link("magic", "out"), "sigma": 2.0},
                "ui": {"pos": [760, 80]},
            },
        },
        name="Has unknown nodes",
        params={},
        groups=[],
        notes=[],
        **{"x-vendor": {"keep": [1, {"a": None}]}},
    )
    server.put_workflow("placeholders", doc)
    editor.open("?workflow=placeholders")
    ph = editor.page.locator('.node.placeholder[data-node-id="magic"]')
    assert ph.is_visible()
    assert "acme.Magic" in ph.inner_text()
    # it keeps its links on both sides, and the missing list names the type
    links = editor.page.locator("[data-link]").evaluate_all("els => els.map(e => e.dataset.link)")
    assert sorted(links) == ["base.image->magic.src", "magic.out->after.image"]
    issues = editor.page.locator(".panel[data-panel=issues]")
    assert issues.is_visible() and "acme.Magic" in issues.inner_text()
    # edit something else, save with Ctrl+S
    x, y = editor.center(editor.node("after").locator(".ntitle"))
    editor.drag((x, y), (x + 60, y + 100))
    editor.page.keyboard.press("Control+s")
    editor.page.wait_for_function("!window.reelgraph.current.dirty")
    saved = server.saved("placeholders")
    assert saved["nodes"]["magic"] == magic
    assert saved["x-vendor"] == {"keep": [1, {"a": None}]}
    assert saved["nodes"]["base"]["comment"] == "kept"
    assert saved["nodes"]["after"]["ui"]["pos"] != [760, 80]


def test_a_param_exposed_in_the_editor_is_honoured_by_the_cli(
    editor: Editor, server: Server, image_wf: str, tmp_path: Path
) -> None:
    page = editor.page
    editor.open(f"?workflow={image_wf}")
    editor.node("base").locator('.row[data-input="color"] .wl').click(button="right")
    page.locator(".menu .mitem", has_text="as a workflow param").click()
    page.locator(".dialog .dlg-input").fill("tint")
    page.keyboard.press("Enter")
    panel = page.locator(".panel[data-panel=params]")
    assert panel.is_visible() and "base" in panel.inner_text()
    assert editor.node("base").locator(".pbadge").inner_text() == "tint"
    page.keyboard.press("Control+s")
    page.wait_for_function("!window.reelgraph.current.dirty")
    saved_path = server.data / "workflows" / f"{image_wf}.json"
    saved = json.loads(saved_path.read_text())
    assert saved["params"]["tint"] == {
        "node": "base",
        "input": "color",
        "type": "TEXT",
        "default": "#00ff00",
    }
    out = tmp_path / "out"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "reelgraph.engine.cli",
            "run",
            str(saved_path),
            "--set",
            "tint=#ff0000",
            "--out",
            str(out),
            "--no-disk-cache",
            "-q",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    from PIL import Image

    (png,) = list(out.rglob("*.png"))
    r, g, b = Image.open(png).convert("RGB").getpixel((8, 8))
    assert r > 200 and g < 40 and b < 40, (r, g, b)


def _make_outputs(tmp_path: Path) -> tuple[dict[str, Any], Path, Path]:
    """A PNG and an MP4 made by `reelgraph run`: both embed the workflow."""
    wf = workflow(
        {
            "solid": {
                "type": "image.Solid",
                "type_version": 1,
                "inputs": {"width": 64, "height": 48, "color": "#3366aa", "batch": 1},
                "ui": {"pos": [0, 0], "title": "Backdrop"},
            },
            "png": {
                "type": "image.SavePNG",
                "type_version": 1,
                "inputs": {"image": link("solid", "image"), "prefix": "still"},
                "ui": {"pos": [300, 0]},
            },
            "clip": {
                "type": "video.ImageToClip",
                "type_version": 1,
                "inputs": {"image": link("solid", "image"), "duration": 0.5, "fps": 8.0},
                "ui": {"pos": [300, 200]},
            },
            "mp4": {
                "type": "video.Encode",
                "type_version": 1,
                "inputs": {"video": link("clip", "video"), "filename": "moving"},
                "ui": {"pos": [600, 200]},
            },
        },
        name="Embedded",
        params={},
        groups=[{"title": "G", "bounds": [-20, -60, 900, 400]}],
        notes=[],
    )
    src = tmp_path / "embedded.json"
    src.write_text(json.dumps(wf))
    out = tmp_path / "out"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "reelgraph.engine.cli",
            "run",
            str(src),
            "--out",
            str(out),
            "--no-disk-cache",
            "-q",
        ],
        cwd=REPO,
        check=True,
        timeout=180,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        capture_output=True,
    )
    (png,) = list(out.rglob("*.png"))
    (mp4,) = list(out.rglob("*.mp4"))
    return wf, png, mp4


def test_dropping_an_output_mp4_or_png_restores_its_graph(editor: Editor, tmp_path: Path) -> None:
    wf, png, mp4 = _make_outputs(tmp_path)
    page = editor.page
    editor.open()
    for path, mime in ((mp4, "video/mp4"), (png, "image/png")):
        tabs = page.locator(".tab").count()
        editor.drop_file(path, mime)
        page.wait_for_function(f"document.querySelectorAll('.tab').length === {tabs + 1}")
        doc = editor.doc()
        assert {k: (n["type"], n["inputs"]) for k, n in doc["nodes"].items()} == {
            k: (n["type"], n["inputs"]) for k, n in wf["nodes"].items()
        }, path.name
        assert doc["groups"] == wf["groups"]
        assert page.locator('[data-node-id="solid"] .ntitle').inner_text() == "Backdrop"
        assert page.locator("[data-link]").count() == 3
    # a file without a workflow is refused with a message, and opens nothing
    plain = tmp_path / "plain.png"
    from PIL import Image

    Image.new("RGB", (4, 4)).save(plain)
    tabs = page.locator(".tab").count()
    editor.drop_file(plain, "image/png")
    page.locator(".toast.bad", has_text="carries no reelgraph workflow").wait_for()
    assert page.locator(".tab").count() == tabs


def test_a_failing_node_shows_its_error_and_traceback(editor: Editor, server: Server) -> None:
    server.put_workflow(
        "failing",
        workflow(
            {
                "tpl": {
                    "type": "text.Template",
                    "type_version": 1,
                    "inputs": {"template": "Hello {name}", "values": "", "strict": True},
                    "ui": {"pos": [40, 40]},
                },
            },
            name="Fails",
        ),
    )
    page = editor.page
    editor.open("?workflow=failing")
    editor.node("tpl").locator(".ntitle").click()
    page.keyboard.press(
        "Control+Shift+Enter"
    )  # run to the selected node (it is not an output node)
    err = editor.node("tpl").locator(".nerror")
    err.wait_for(timeout=60000)
    assert "no value for {name}" in err.locator(".emsg").inner_text()
    assert "failed" in (editor.node("tpl").get_attribute("class") or "")
    err.locator("summary").click()
    assert "Traceback" in err.locator("pre").inner_text()
    # the run shows up in the queue panel with its error
    page.locator(".sidetabs button[data-panel=queue]").click()
    page.locator(".runitem.st-failed").first.wait_for()


def test_palette_fuzzy_search_and_categories(editor: Editor, image_wf: str) -> None:
    page = editor.page
    editor.open(f"?workflow={image_wf}")
    page.mouse.move(700, 700)
    page.keyboard.press("Space")  # a tap of Space (no drag) opens the search
    palette = page.locator(".palette")
    assert palette.is_visible()
    cats = palette.locator(".pcat").evaluate_all("els => els.map(e => e.textContent)")
    assert "image/filter" in cats and "video/output" in cats
    search = palette.locator(".psearch")

    def first(query: str) -> str:
        search.fill(query)
        return str(palette.locator(".pitem").first.get_attribute("data-type"))

    assert first("blr").endswith(".Blur")
    assert first("vid enc") == "video.Encode"
    assert first("split scenes") == "text.SplitScenes"
    offered = palette.locator(".pitem").evaluate_all("els => els.map(e => e.dataset.type)")
    assert "image.Blend" not in offered
    search.fill("qqqzzz")
    assert palette.locator(".pitem").count() == 0 and "No node matches" in palette.inner_text()
    page.keyboard.press("Escape")
    assert not palette.is_visible()


def test_a_workflow_that_cannot_run_shows_why_on_its_nodes(editor: Editor, server: Server) -> None:
    server.put_workflow(
        "invalid",
        workflow(
            {
                "blur": {
                    "type": "image.Blur",
                    "type_version": 1,
                    "inputs": {"sigma": 1.0},
                    "ui": {"pos": [40, 40]},
                },
                "save": {
                    "type": "image.SavePNG",
                    "type_version": 1,
                    "inputs": {"image": link("blur", "image"), "prefix": "x"},
                    "ui": {"pos": [340, 40]},
                },
            }
        ),
    )
    page = editor.page
    editor.open("?workflow=invalid")
    # the Issues panel already names the unlinked input
    page.locator(".sidetabs button[data-panel=issues]").click()
    assert "needs a link" in page.locator(".panel[data-panel=issues]").inner_text()
    page.mouse.click(700, 700)
    page.keyboard.press("Control+Enter")
    page.locator(".toast.bad", has_text="Cannot queue").wait_for()
    err = editor.node("blur").locator(".nerror .emsg")
    err.wait_for()
    assert "image" in err.inner_text()
    assert "st-failed" in (editor.node("blur").get_attribute("class") or "")
    assert "server validation" in page.locator(".panel[data-panel=issues]").inner_text().lower()


def test_the_editor_applies_the_engines_connection_rules(editor: Editor, server: Server) -> None:
    """Every pair of types (and their lists): the editor allows exactly what the engine accepts."""
    from reelgraph.engine.types import compatibility

    names = sorted(server.request("GET", "/api/types")["types"])
    types = [*names, *(f"list[{n}]" for n in names)]
    pairs = [(a, b) for a in types for b in types]
    editor.open()
    got = editor.page.evaluate(
        """async (pairs) => {
        const { compatibility } = await import('/js/types.js');
        return pairs.map(([a, b]) => compatibility(a, b)); }""",
        pairs,
    )
    expected = [compatibility(a, b).name.lower() for a, b in pairs]
    mismatches = [(a, b, g, e) for (a, b), g, e in zip(pairs, got, expected, strict=True) if g != e]
    assert not mismatches, mismatches[:20]


def test_renaming_a_node_by_double_clicking_its_title(editor: Editor, image_wf: str) -> None:
    editor.open(f"?workflow={image_wf}")
    editor.node("blur").locator(".ntitle").dblclick()
    field = editor.node("blur").locator(".titleedit")
    field.fill("Soften")
    field.press("Enter")
    assert editor.doc()["nodes"]["blur"]["ui"]["title"] == "Soften"
    assert editor.node("blur").locator(".ntitle").inner_text().strip() == "Soften"
    # Escape leaves the title as it was
    editor.node("blur").locator(".ntitle").dblclick()
    editor.node("blur").locator(".titleedit").fill("Nope")
    editor.node("blur").locator(".titleedit").press("Escape")
    assert editor.doc()["nodes"]["blur"]["ui"]["title"] == "Soften"
