"""Every shipped template opens with no two node boxes on top of each other."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Editor, Server

# Node boxes as drawn, in world pixels: the element's box, grown to its content when that
# overflows downwards (a tall text box), so a hidden overlap counts too. (Output sockets
# stick out 6 px on the right by design; they are not part of the box.)
BOXES = """() => { const e = window.reelgraph.editor, out = [];
  for (const [id, el] of e.nodeEls) {
    const n = e.doc.nodes[id], p = (n.ui && n.ui.pos) || [0, 0];
    const w = el.offsetWidth, h = Math.max(el.offsetHeight, el.scrollHeight);
    out.push([id, p[0], p[1], p[0] + w, p[1] + h]);
  }
  return out; }"""


def overlapping(boxes: list[list[Any]]) -> list[tuple[str, str]]:
    out = []
    for i, (a, ax0, ay0, ax1, ay1) in enumerate(boxes):
        for b, bx0, by0, bx1, by1 in boxes[i + 1 :]:
            if ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1:
                out.append((a, b))
    return out


def template_names(server: Server) -> list[str]:
    return [t["name"] for t in server.request("GET", "/api/workflows")["templates"]]


@pytest.mark.parametrize("viewport", [(1600, 1000), (1280, 720)])
def test_no_shipped_template_has_overlapping_nodes(
    browser: Any, server: Server, viewport: tuple[int, int]
) -> None:
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    ed = Editor(page, server)
    names = template_names(server)
    assert {"presenter", "presenter_pip", "slideshow", "story", "explainer"} <= set(names)
    found = {}
    ed.open()
    for name in names:
        # the code path of /?workflow=NAME without loading the page again for each
        assert page.evaluate(
            "(n) => window.reelgraph.openByName(n, 'template').then(Boolean)", name
        ), name
        # every node full (not a shell), so each box has its real rows
        page.evaluate(
            "() => { const e = window.reelgraph.editor; e.setView({x: 0, y: 0, zoom: 1}, true); e.render(); }"
        )
        page.evaluate(
            "() => { const e = window.reelgraph.editor; for (const id of [...(e.shells || [])]) e.refreshNodes([id]); }"
        )
        clash = overlapping(page.evaluate(BOXES))
        if clash:
            found[name] = clash
    context.close()
    assert not ed.errors, ed.errors
    assert found == {}


# Screen boxes (page px) of the node elements shown and of what covers the canvas.
OPENED = """() => { const e = window.reelgraph.editor, box = (el) => { const r = el.getBoundingClientRect();
    return [r.left, r.top, r.right, r.bottom]; };
  const nodes = [...e.nodeEls].filter(([, el]) => el.checkVisibility()).map(([id, el]) => [id, ...box(el)]);
  const covers = [e.minimap, e.root.querySelector('.zoomctl')].filter((el) => el.checkVisibility()).map(box);
  return { nodes, covers, canvas: box(e.root), zoom: e.view.zoom, first: e.bounds() }; }"""


@pytest.mark.parametrize("viewport", [(1600, 1000), (1280, 720)])
def test_templates_open_with_no_node_under_the_minimap_or_the_zoom_buttons(
    browser: Any, server: Server, viewport: tuple[int, int]
) -> None:
    """A template larger than the view opened at 75 % top-left, and its last nodes lay under the
    minimap (Presenter at 1280 x 720: "From Speech"). The opening view keeps that corner free."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    ed = Editor(page, server)
    ed.open()
    found = {}
    for name in template_names(server):
        assert page.evaluate(
            "(n) => window.reelgraph.openByName(n, 'template').then(Boolean)", name
        ), name
        page.wait_for_timeout(50)
        got = page.evaluate(OPENED)
        assert got["zoom"] >= 0.6 - 1e-9, (name, got["zoom"])  # readable
        cx0, cy0, cx1, cy1 = got["canvas"]
        under = [
            nid
            for nid, x0, y0, x1, y1 in got["nodes"]
            for u0, v0, u1, v1 in got["covers"]
            if x0 < u1 and u0 < x1 and y0 < v1 and v0 < y1 and x0 < cx1 and y0 < cy1
        ]
        if under:
            found[name] = under
        # the graph's first nodes (its top-left corner) are in view
        assert any(
            x0 >= cx0 and y0 >= cy0 and x0 < cx1 and y0 < cy1 for _, x0, y0, _x, _y in got["nodes"]
        )
    # a minimap folded away for a dense graph comes back with its button
    page.evaluate("(n) => window.reelgraph.openByName(n, 'template')", "presenter")
    page.wait_for_timeout(50)
    if not page.locator(".minimap").is_visible():
        page.locator(".zoomctl [data-act=minimap]").click()
        assert page.locator(".minimap").is_visible()
    context.close()
    assert not ed.errors, ed.errors
    assert found == {}
