"""The script node shows the scenes a text becomes, as `reelgraph scenes` prints them."""

from __future__ import annotations

from .conftest import Editor, Server, workflow

ARTICLE = (
    "# Why cities need trees\n"
    "Shade cools the street by several degrees on a summer afternoon.\n\n"
    "# Where to plant them\n"
    "Narrow streets suit small trees; wide avenues can hold large ones.\n\n"
    "# Who looks after them\n"
    "Neighbours water young trees in their first two summers."
)


def test_split_scenes_shows_its_scene_table_on_the_node(editor: Editor, server: Server) -> None:
    server.put_workflow(
        "scenes",
        workflow(
            {
                "split": {
                    "type": "text.SplitScenes",
                    "type_version": 1,
                    "inputs": {"text": ARTICLE},
                    "ui": {"pos": [60, 60]},
                }
            }
        ),
    )
    page = editor.open("?workflow=scenes").page
    page.evaluate("window.reelgraph.queue(['split'])")
    table = page.locator('[data-node-id="split"] .ptable')
    table.wait_for(timeout=60000)
    assert "3 scenes" in table.locator(".ptitle").inner_text()
    titles = [r.locator("td").nth(1).inner_text() for r in table.locator("tr").all()]
    assert titles == ["Why cities need trees", "Where to plant them", "Who looks after them"]
    assert "Shade cools" in (table.locator("tr").first.get_attribute("title") or "")
    assert not editor.errors
