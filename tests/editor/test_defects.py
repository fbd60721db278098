"""The defects a ComfyUI power user hit first (issue 13, item 4): each test failed before its fix."""

from __future__ import annotations

from typing import Any

from .conftest import Editor, Server, link, shot, workflow

SOLID = {"width": 8, "height": 8, "color": "#3366ff", "batch": 1}


def solid(x: float, y: float, **extra: Any) -> dict[str, Any]:
    return {
        "type": "image.Solid",
        "type_version": 1,
        "inputs": dict(SOLID),
        "ui": {"pos": [x, y]},
        **extra,
    }


def blur(src: str, x: float, y: float) -> dict[str, Any]:
    return {
        "type": "image.Blur",
        "type_version": 1,
        "inputs": {"image": link(src, "image"), "sigma": 1.0},
        "ui": {"pos": [x, y]},
    }


def test_a_middle_click_never_pastes(editor: Editor, server: Server) -> None:
    server.put_workflow("mid", workflow({"base": solid(40, 40), "blur": blur("base", 400, 40)}))
    page = editor.page
    editor.open("?workflow=mid")
    editor.node("base").locator(".ntitle").click()
    page.keyboard.press("Control+c")  # something is in the app's clipboard
    # a middle-button pan, then the paste event Linux sends for the primary selection: no text
    page.mouse.move(700, 600)
    page.mouse.down(button="middle")
    page.mouse.move(760, 640, steps=4)
    page.mouse.up(button="middle")
    page.evaluate(
        """() => document.querySelector('#canvas').dispatchEvent(new ClipboardEvent('paste',
        { clipboardData: new DataTransfer(), bubbles: true, cancelable: true }))"""
    )
    page.wait_for_timeout(100)
    assert sorted(editor.doc()["nodes"]) == ["base", "blur"]
    # Ctrl+V still pastes
    page.keyboard.press("Control+v")
    page.wait_for_function("Object.keys(window.reelgraph.current.doc.nodes).length === 3")


def test_pasted_nodes_never_link_to_an_unrelated_node_with_the_same_id(
    editor: Editor, server: Server
) -> None:
    server.put_workflow("pair", workflow({"base": solid(40, 40), "blur": blur("base", 400, 40)}))
    other = solid(40, 300)
    other["inputs"]["color"] = "#ff0000"
    server.put_workflow("other", workflow({"base": other}))
    page = editor.page
    editor.open("?workflow=pair")
    editor.node("blur").locator(".ntitle").click()
    page.keyboard.press("Control+c")
    # pasted into the same document, the copy keeps its input link
    page.mouse.move(700, 500)
    page.keyboard.press("Control+v")
    doc = editor.doc()
    (copy,) = set(doc["nodes"]) - {"base", "blur"}
    assert doc["nodes"][copy]["inputs"]["image"] == link("base", "image")
    # into another workflow whose "base" is a different node: no link to it
    page.evaluate("window.reelgraph.openByName('other', 'workflow')")
    page.wait_for_function("window.reelgraph.current.name === 'other'")
    page.mouse.move(700, 500)
    page.keyboard.press("Control+v")
    page.wait_for_function("Object.keys(window.reelgraph.current.doc.nodes).length === 2")
    doc = editor.doc()
    (pasted,) = set(doc["nodes"]) - {"base"}
    assert doc["nodes"][pasted]["type"] == "image.Blur"
    assert "from" not in (doc["nodes"][pasted]["inputs"].get("image") or {})


def test_the_wire_is_drawn_while_dragging_a_connection(editor: Editor, server: Server) -> None:
    server.put_workflow("wire", workflow({"a": solid(40, 40), "b": solid(500, 300)}))
    page = editor.page
    editor.open("?workflow=wire")
    x, y = editor.center(editor.socket("a", "out", "image"))
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 200, y + 150, steps=6)
    temp = page.locator(".wire.temp")
    assert temp.evaluate("el => getComputedStyle(el).display") != "none"
    box = temp.bounding_box()
    assert box is not None and box["width"] > 150 and box["height"] > 100
    page.mouse.up()
    assert temp.evaluate("el => getComputedStyle(el).display") == "none"


def test_templates_open_at_a_readable_zoom_from_their_first_nodes(editor: Editor) -> None:
    page = editor.page
    editor.open("?workflow=explainer")
    zoom = page.evaluate("window.reelgraph.editor.view.zoom")
    assert zoom >= 0.6, zoom
    assert page.locator(".world.lod").count() == 0  # real nodes, not grey boxes
    title = editor.node("script").locator(".ntitle")
    assert float(title.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")) * zoom >= 9
    # the graph's first node is in view
    canvas = page.locator("#canvas").bounding_box()
    box = editor.node("script").bounding_box()
    assert box["x"] >= canvas["x"] and box["y"] >= canvas["y"]
    assert box["x"] + box["width"] <= canvas["x"] + canvas["width"]
    assert box["y"] + box["height"] <= canvas["y"] + canvas["height"]
    # nodes made wide enough for their labels still fit the template's layout
    overlaps = page.evaluate(
        """() => { const r = [...document.querySelectorAll('[data-node-id]')].map((e) => [e.dataset.nodeId, e.getBoundingClientRect()]);
        const out = []; for (const [a, p] of r) for (const [b, q] of r)
          if (a < b && p.left < q.right && q.left < p.right && p.top < q.bottom && q.top < p.bottom) out.push([a, b]);
        return out; }"""
    )
    assert overlaps == []
    shot(page, "editor-explainer")


def test_many_tabs_scroll_with_the_active_one_in_view_and_the_bar_never_wraps(
    browser: Any, server: Server
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        ed = Editor(page, server)
        ed.open()
        for _ in range(9):
            page.locator(".newtab").click()
        strip = page.locator(".tabs").bounding_box()

        def active_in_view() -> bool:
            b = page.locator(".tab.on").bounding_box()
            return (
                b["x"] >= strip["x"] - 1 and b["x"] + b["width"] <= strip["x"] + strip["width"] + 1
            )

        assert page.locator(".tab").count() == 10
        assert active_in_view()
        # a name cut short is there in full on hover, and the strip shows that it goes on
        for tab in page.locator(".tab").all():
            name = tab.locator(".tname").inner_text()
            assert (tab.get_attribute("title") or "").startswith(name)
            assert tab.bounding_box()["width"] >= 120  # enough to tell names apart
        assert "more-left" in (page.locator(".tabs").get_attribute("class") or "")
        page.evaluate("window.reelgraph.switchTab(window.reelgraph.tabs[0].id)")
        assert active_in_view()
        page.evaluate("window.reelgraph.switchTab(window.reelgraph.tabs[9].id)")
        assert active_in_view()
        assert page.locator(".topbar").bounding_box()["height"] <= 45
        for sel in (".queue", ".cancel", "[data-act=open]", "[data-act=export]"):
            b = page.locator(sel).bounding_box()
            assert b["height"] <= 32, (sel, b)  # one line
            assert b["x"] + b["width"] <= 1280
        assert not ed.errors
    finally:
        context.close()


def test_widget_names_and_seed_values_are_readable(editor: Editor, server: Server) -> None:
    nodes = {
        "fade": {"type": "video.Fade", "type_version": 1, "inputs": {}, "ui": {"pos": [40, 40]}},
        "card": {
            "type": "slides.TitleCard",
            "type_version": 1,
            "inputs": {},
            "ui": {"pos": [420, 40]},
        },
        "speak": {"type": "tts.Speak", "type_version": 1, "inputs": {}, "ui": {"pos": [40, 420]}},
        "seed": {
            "type": "edtest.Seeded",
            "type_version": 1,
            "inputs": {"seed": 123456789, "picture": ""},
            "ui": {"pos": [420, 560]},
        },
    }
    server.put_workflow("labels", workflow(nodes))
    page = editor.page
    editor.open("?workflow=labels")
    page.evaluate("window.reelgraph.editor.setView({x: 0, y: 0, zoom: 1})")
    page.wait_for_timeout(100)
    cut = page.locator("[data-node-id] .wl").evaluate_all(
        "els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)"
    )
    assert cut == []
    labels = page.locator("[data-node-id] .wl").evaluate_all("els => els.map(e => e.textContent)")
    assert {"audio_fade_in", "audio_fade_out", "reserve_bottom", "sentence_pause"} <= set(labels)
    row = editor.node("seed").locator('.row[data-input="seed"]')
    value = row.locator(".wv").bounding_box()
    inc = row.locator(".step.inc").bounding_box()
    assert row.locator(".wv").inner_text() == "123456789"
    assert value["x"] + value["width"] <= inc["x"]


def test_previews_sit_above_the_node_below_and_survive_a_cached_rerun(
    editor: Editor, server: Server
) -> None:
    src = solid(40, 40)
    src["inputs"].update(width=64, height=48)
    nodes = {
        "src": src,
        "show": {
            "type": "image.Preview",
            "type_version": 1,
            "inputs": {"image": link("src", "image")},
            "ui": {"pos": [340, 40]},
        },
        "under": solid(340, 150),  # right where the preview hangs below "show"
    }
    server.put_workflow("previews", workflow(nodes))
    page = editor.page
    editor.open("?workflow=previews")
    page.evaluate("window.reelgraph.editor.setView({x: 0, y: 0, zoom: 1})")
    page.mouse.click(900, 800)
    page.keyboard.press("Control+Enter")
    img = editor.node("show").locator(".npreview img")
    img.wait_for(state="visible", timeout=60000)
    page.wait_for_function("document.querySelector('[data-node-id=show] .npreview img').complete")

    def preview_on_top() -> bool:
        b = img.bounding_box()
        return bool(
            page.evaluate(
                "([x, y]) => !!document.elementFromPoint(x, y)?.closest('[data-node-id=show]')",
                [b["x"] + b["width"] / 2, b["y"] + b["height"] / 2],
            )
        )

    assert preview_on_top()
    first = page.evaluate("window.reelgraph.current.run.id")
    page.wait_for_function(
        "(id) => window.reelgraph.runs.get(id)?.status === 'finished'", arg=first, timeout=60000
    )
    page.mouse.click(900, 800)
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        """(id) => { const r = window.reelgraph.current.run;
        return r.id && r.id !== id && window.reelgraph.runs.get(r.id)?.status === 'finished'; }""",
        arg=first,
        timeout=60000,
    )
    page.wait_for_function(
        "window.reelgraph.current.run.states.show && window.reelgraph.current.run.states.show.state === 'cached'"
    )
    assert img.is_visible()
    assert preview_on_top()


def test_a_moved_reroute_point_redraws_its_wire(editor: Editor, server: Server) -> None:
    b = blur("a", 600, 40)
    b["ui"]["reroutes"] = {"image": [[400, 100]]}
    server.put_workflow("reroute", workflow({"a": solid(40, 40), "b": b}))
    page = editor.page
    editor.open("?workflow=reroute")
    page.evaluate("window.reelgraph.editor.setView({x: 0, y: 0, zoom: 1})")
    page.wait_for_timeout(100)
    start = editor.center(page.locator(".reroute"))
    end = (start[0], start[1] + 260)
    editor.drag(start, end)
    page.wait_for_timeout(150)
    wire_pixels = page.evaluate(
        """([x, y]) => { const c = document.querySelector('canvas.scene'), r = c.getBoundingClientRect();
        const k = c.width / r.width, d = c.getContext('2d').getImageData((x - r.left) * k - 3, (y - r.top) * k - 3, 7, 7).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) {
          // neither a grid dot nor the (opaque) background
          const off = (r, g, b) => Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) > 60;
          if (d[i + 3] > 200 && off(0x2c, 0x31, 0x3b) && off(0x1b, 0x1e, 0x24)) n++; }
        return n; }""",
        list(end),
    )
    assert wire_pixels > 0, "the wire was not redrawn through the moved point"


def test_fit_to_view_keeps_nodes_out_from_under_the_minimap(editor: Editor, server: Server) -> None:
    nodes = {f"n{r}{c}": solid(c * 300, r * 220) for r in range(5) for c in range(5)}
    server.put_workflow("grid", workflow(nodes))
    page = editor.page
    editor.open("?workflow=grid")
    page.mouse.click(5, 400)  # focus the canvas, nothing selected
    page.keyboard.press(".")
    page.wait_for_timeout(150)
    canvas = page.locator("#canvas").bounding_box()
    covered = [page.locator(s).bounding_box() for s in (".minimap", ".zoomctl")]
    side = page.locator(".side").bounding_box()

    def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
        return (
            a["x"] < b["x"] + b["width"]
            and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"]
            and b["y"] < a["y"] + a["height"]
        )

    for nid in nodes:
        box = editor.node(nid).bounding_box()
        assert box is not None
        assert not any(overlaps(box, c) for c in covered), nid
        assert not overlaps(box, side), nid
        assert box["x"] >= canvas["x"] and box["y"] >= canvas["y"], nid
    assert page.evaluate("window.reelgraph.editor.view.zoom") > 0.5


def test_the_script_box_can_be_made_taller(editor: Editor, server: Server) -> None:
    nodes = {
        "script": {
            "type": "text.Script",
            "type_version": 1,
            "inputs": {"text": "line\n" * 12},
            "ui": {"pos": [40, 40]},
        },
        "next": solid(40, 400),
    }
    server.put_workflow("tall", workflow(nodes))
    page = editor.page
    editor.open("?workflow=tall")
    page.evaluate("window.reelgraph.editor.setView({x: 0, y: 0, zoom: 1})")
    box = editor.node("script").locator("textarea")
    h0 = box.bounding_box()["height"]
    node_h0 = editor.node("script").bounding_box()["height"]
    handle = editor.node("script").locator(".mlresize")
    x, y = editor.center(handle)
    editor.drag((x, y), (x, y + 160))
    h1 = box.bounding_box()["height"]
    assert h1 > h0 + 120
    assert editor.node("script").bounding_box()["height"] > node_h0 + 120
    height = editor.doc()["nodes"]["script"]["ui"]["heights"]["text"]
    assert height > 200
    page.keyboard.press("Control+s")
    page.wait_for_function("!window.reelgraph.current.dirty")
    assert server.saved("tall")["nodes"]["script"]["ui"]["heights"] == {"text": height}
    page.keyboard.press("Control+z")
    assert "heights" not in editor.doc()["nodes"]["script"]["ui"]


def test_the_params_panel_runs_and_gives_each_default_the_widget_of_its_input(
    editor: Editor,
) -> None:
    """The issue's "Why": the Params panel had no Run button and the voice was free text; its
    three unlabelled boxes (default, label, help) read as one, and the help text was cut."""
    page = editor.page
    editor.open("?workflow=explainer")
    page.locator(".sidetabs button[data-panel=params]").click()
    panel = page.locator(".panel[data-panel=params]")
    voice = panel.locator('.param[data-param="voice"]')
    default = voice.locator(".pdefault")
    assert default.evaluate("el => el.tagName") == "SELECT"
    options = default.locator("option").all_inner_texts()
    assert "auto" in options and len(options) > 1, options
    # every box says what it is
    for param in panel.locator(".param").all():
        labels = param.locator(".pfield > span").all_inner_texts()
        assert labels == ["Default", "Label in the app", "Help text in the app"], labels
    # help text shows in full, not cut at the box's edge
    cut = panel.locator(".pdescr").evaluate_all(
        "els => els.filter((e) => e.scrollHeight > e.clientHeight + 2).map((e) => e.value)"
    )
    assert cut == []
    # choosing a voice there sets the default, and the node's input with it
    other = next(o for o in options if o != "auto")
    default.select_option(other)
    page.wait_for_function(
        f"window.reelgraph.current.doc.params.voice.default === {other!r}"
        f" && window.reelgraph.current.doc.nodes.speak.inputs.voice === {other!r}"
    )
    shot(page, "editor-params")
    # and the panel runs the workflow with these values
    before = page.evaluate("(window.reelgraph.current.run || {}).id || null")
    page.locator(".panel[data-panel=params] .prun").click()
    page.wait_for_function(
        "(b) => { const r = window.reelgraph.current.run; return Boolean(r && r.id && r.id !== b); }",
        arg=before,
    )
    page.evaluate("window.reelgraph.runner.cancelRun()")
