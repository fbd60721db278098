"""The level-of-detail switch on a big graph: what each frame has to redo, not how long it takes.

Zooming back in across the cut-off used to stall: the frame that showed the node elements
again painted some 165 of them, and Chromium layerised and committed each node as a layer of
its own. These tests pin the two causes down.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from .conftest import Editor, Server, workflow

COLUMNS, PITCH = 20, (360, 220)


def grid(n: int) -> dict[str, Any]:
    """bench/editor.py's grid: a Solid then a chain of Blurs at 360 x 220 pitch."""
    nodes: dict[str, Any] = {}
    for i in range(n):
        row, col = divmod(i, COLUMNS)
        pos = [col * PITCH[0], row * PITCH[1]]
        if i == 0:
            nodes["n0"] = {
                "type": "image.Solid",
                "inputs": {"width": 64, "height": 64},
                "ui": {"pos": pos},
            }
        else:
            nodes[f"n{i}"] = {
                "type": "image.Blur",
                "inputs": {"image": {"from": f"n{i - 1}", "output": "image"}, "sigma": 1.0},
                "ui": {"pos": pos},
            }
    return workflow(nodes, ui={"viewport": {"x": 1, "y": 1, "zoom": 1}})


@pytest.fixture(scope="module")
def grid300(server: Server) -> str:
    server.put_workflow("grid300", grid(300))
    return "grid300"


def set_view(editor: Editor, zoom: float) -> None:
    editor.page.evaluate(
        """(z) => { const e = window.reelgraph.editor, r = e.root.getBoundingClientRect();
        e.setView({x: r.width / 2 - 3000 * z, y: r.height / 2 - 1400 * z, zoom: z}); }""",
        zoom,
    )


def settle(editor: Editor) -> None:
    """Two animation frames: the view applied and painted."""
    editor.page.evaluate(
        "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )


def drawing_layers(editor: Editor) -> int:
    """Composited layers that draw content, from the DevTools layer tree."""
    cdp = editor.page.context.new_cdp_session(editor.page)
    seen: list[list[dict[str, Any]]] = []
    cdp.on("LayerTree.layerTreeDidChange", lambda e: seen.append(e.get("layers") or []))
    cdp.send("LayerTree.enable")
    # a change of view makes the compositor send a fresh tree
    editor.page.evaluate(
        "window.reelgraph.editor.setView({...window.reelgraph.editor.view, x: window.reelgraph.editor.view.x + 1})"
    )
    editor.page.wait_for_timeout(300)
    settle(editor)
    cdp.send("LayerTree.disable")
    cdp.detach()
    assert seen, "no layer tree came from the compositor"
    return sum(1 for layer in seen[-1] if layer.get("drawsContent"))


def test_all_nodes_share_one_composited_layer(editor: Editor, grid300: str) -> None:
    """Nodes far apart were each a layer of their own (Chromium's sparsity and LCD-text rules):
    100-230 layers to layerise, commit and draw whenever nodes were shown again."""
    editor.open(f"?workflow={grid300}")
    for zoom in (1.0, 0.6, 0.43):
        set_view(editor, zoom)
        settle(editor)
        shown = editor.page.evaluate(
            "() => [...window.reelgraph.editor.nodeEls.values()].filter((el) => el.checkVisibility()).length"
        )
        assert shown > 40, (zoom, shown)  # the view really has many nodes in it
        # root, viewport, the wire canvas, the nodes' layer, the groups' layer, minimap, ...
        assert drawing_layers(editor) <= 10, zoom


def test_zooming_in_across_the_cut_off_shows_nodes_over_frames_with_none_missing(
    editor: Editor, grid300: str
) -> None:
    page = editor.page
    editor.open(f"?workflow={grid300}")
    set_view(editor, 0.43)
    settle(editor)
    set_view(editor, 0.38)  # below the cut-off: the canvas draws every node
    settle(editor)
    assert page.evaluate("window.reelgraph.editor.lod") is True
    frames = page.evaluate(
        """() => new Promise((done) => {
        const e = window.reelgraph.editor, r = e.root.getBoundingClientRect(), z = 0.43;
        e.setView({x: r.width / 2 - 3000 * z, y: r.height / 2 - 1400 * z, zoom: z});
        const frames = [];
        const look = () => {
          const view = e.viewRect(0);
          let shown = 0, drawn = 0, missing = [];
          for (const [id, el] of e.nodeEls) {
            if (!e.intersects(id, view)) continue;
            if (el.checkVisibility()) shown++;
            else if (e.onCanvas(id)) drawn++;
            else missing.push(id);
          }
          frames.push({ shown, drawn, missing, lod: e.lod, canvasNodes: e.canvasNodes, boxes: Boolean(e.painter.nodesDrawn) });
          if (frames.length < 12) requestAnimationFrame(look); else done(frames);
        };
        requestAnimationFrame(look);
      })"""
    )
    in_view = frames[0]["shown"] + frames[0]["drawn"] + len(frames[0]["missing"])
    assert in_view > 60, frames[0]
    for f in frames:
        assert not f["lod"]
        assert f["missing"] == [], f  # every node in view is either shown or drawn on the canvas
        assert f["boxes"] or not f["drawn"], f  # and the canvas's bitmap has them
    # the first frame back paints no node element; later ones a part each, never all at once
    assert frames[0]["shown"] == 0, frames[0]
    steps = [b["shown"] - a["shown"] for a, b in itertools.pairwise(frames)]
    assert max(steps) <= in_view * 0.4, steps
    # and within a few frames all are shown, the canvas no longer drawing any
    assert frames[-1]["shown"] == in_view and frames[-1]["drawn"] == 0, frames[-1]
    assert frames[-1]["canvasNodes"] is False
