"""Build the explainer pipeline from an empty canvas with mouse and keyboard, save,
reload, queue it, and watch the finished video play on its node."""

from __future__ import annotations

from .conftest import Editor, Server

SCRIPT = "# Hello\nVisual: A quick test.\nThis is a short test."


def test_build_save_reload_queue_and_play_the_explainer(editor: Editor, server: Server) -> None:
    page = editor.page
    editor.open()
    assert page.locator("[data-node-id]").count() == 0
    canvas = page.locator("#canvas").bounding_box()
    cx, cy = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
    page.mouse.move(cx, cy)
    for _ in range(3):  # zoom out a little with the wheel, at the cursor
        page.mouse.wheel(0, 100)
    page.wait_for_function("Math.abs(window.reelgraph.editor.view.zoom - 0.64) < 0.02")

    top = canvas["y"] + 60
    add = editor.add_node
    script = add("text.script", 30, top)
    split = add("split scenes", 210, top)
    card = add("title card", 390, top)
    fields = add("scene fields", 390, top + 420)
    speak = add("tts.speak", 570, top + 420)
    clip = add("image to clip", 750, top)
    concat = add("video.concat", 930, top)
    encode = add("video.encode", 1110, top)
    assert [script, split, card, fields, speak, clip, concat, encode] == [
        "script",
        "splitscenes",
        "titlecard",
        "scenefields",
        "speak",
        "imagetoclip",
        "concat",
        "encode",
    ]
    assert [n["type"] for n in editor.doc()["nodes"].values()] == [
        "text.Script",
        "text.SplitScenes",
        "slides.TitleCard",
        "text.SceneFields",
        "tts.Speak",
        "video.ImageToClip",
        "video.Concat",
        "video.Encode",
    ]

    editor.connect(script, "text", split, "text")
    editor.connect(split, "scenes", card, "scene")
    editor.connect(split, "scenes", fields, "scene")
    editor.connect(fields, "narration", speak, "text")
    editor.connect(card, "image", clip, "image")
    editor.connect(speak, "audio", clip, "audio")
    editor.connect(clip, "video", concat, "clips")
    # timings dropped on empty canvas: the palette offers nodes that take TIMINGS, the chosen one is linked
    editor.drag(editor.center(editor.socket(speak, "out", "timings")), (944, top + 314))
    page.locator(".palette .psearch").type("from speech")
    page.keyboard.press("Enter")
    page.wait_for_function("Object.keys(window.reelgraph.current.doc.nodes).length === 9")
    subs = "fromspeech"
    assert editor.link(subs, "timings") == {"from": speak, "output": "timings"}
    editor.connect(clip, "video", subs, "clips")
    editor.connect(concat, "video", encode, "video")
    editor.connect(subs, "subtitles", encode, "subtitles")
    assert page.locator("[data-link]").count() == 11

    # (queries are specific where several node packs have similar names; the types are checked above)
    # widgets: a short script, small title cards, the file name
    text = editor.node(script).locator("textarea")
    text.click()
    page.keyboard.type(SCRIPT)
    editor.set_number(card, "width", 320)
    editor.set_number(card, "height", 180)
    name = editor.node(encode).locator('.row[data-input="filename"] input')
    name.fill("built")
    name.press("Enter")
    doc = editor.doc()
    assert doc["nodes"][script]["inputs"]["text"] == SCRIPT
    assert (doc["nodes"][card]["inputs"]["width"], doc["nodes"][card]["inputs"]["height"]) == (
        320,
        180,
    )

    # save under a name (Ctrl+S asks for it)
    page.keyboard.press("Control+s")
    page.locator(".dialog .dlg-input").fill("built-explainer")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "!window.reelgraph.current.dirty && window.reelgraph.current.name === 'built-explainer'"
    )
    saved = server.saved("built-explainer")
    assert len(saved["nodes"]) == 9
    check = server.request("POST", "/api/workflows/validate", saved)
    assert check["ok"], check["issues"]

    # reload: the tab comes back, saved and clean
    page.reload()
    page.wait_for_function("document.body.classList.contains('ready')")
    assert page.locator(".tab.on .tname").inner_text() == "built-explainer"
    assert page.locator("[data-node-id]").count() == 9
    assert page.locator("[data-link]").count() == 11
    assert (
        editor.doc() == saved | {"ui": editor.doc().get("ui")}
        or editor.doc()["nodes"] == saved["nodes"]
    )

    # queue with Ctrl+Enter and watch
    page.mouse.click(canvas["x"] + 20, canvas["y"] + canvas["height"] - 60)
    status = queue_and_wait(editor)
    assert status == "finished", failure_text(editor)
    video = editor.node(encode).locator("video")
    video.wait_for(timeout=30000)
    for node_id in (script, split, card, fields, speak, clip, concat, subs, encode):
        cls = editor.node(node_id).get_attribute("class") or ""
        assert "st-done" in cls or "st-cached" in cls, (node_id, cls)
    badge = editor.node(encode).locator(".nbadge").inner_text()
    assert badge.endswith(("s", "ms")), badge
    src = video.get_attribute("src") or ""
    assert src.startswith("/api/files/outputs/") and src.endswith("built.mp4"), src
    # the preview plays
    page.evaluate(
        """async (sel) => { const v = document.querySelector(sel); v.muted = true; await v.play(); }""",
        f'[data-node-id="{encode}"] video',
    )
    page.wait_for_function(
        f"""document.querySelector('[data-node-id="{encode}"] video').currentTime > 0.2""",
        timeout=20000,
    )
    assert (
        page.evaluate(f"""document.querySelector('[data-node-id="{encode}"] video').videoWidth""")
        == 320
    )


RUN_STATUS = """() => { const app = window.reelgraph, run = app.current.run;
  const r = run && run.id && app.runs.get(run.id); return r ? r.status : null; }"""


def queue_and_wait(editor: Editor) -> str:
    page = editor.page
    old = page.evaluate("() => window.reelgraph.current.run && window.reelgraph.current.run.id")
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        f"() => {{ const r = window.reelgraph.current.run; return r && r.id && r.id !== {old!r}; }}".replace(
            "None", "null"
        )
    )
    page.wait_for_function(
        f"() => ['finished', 'failed', 'cancelled'].includes(({RUN_STATUS})())", timeout=300000
    )
    status = str(page.evaluate(RUN_STATUS))
    if status == "finished":  # the outputs (the video) are fetched once the run ends
        page.wait_for_function(
            "() => Object.values(window.reelgraph.current.run.previews).some((p) => p.kind === 'file')"
        )
    return status


def failure_text(editor: Editor) -> str:
    return " | ".join(editor.page.locator(".nerror .emsg").all_inner_texts())
