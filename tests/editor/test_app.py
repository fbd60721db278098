"""The app view (/app/<workflow>) and the gallery (/app/): forms, runs, results, errors, no graph."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Editor, Server, link, shot, workflow

SCRIPT = "# Hello\nVisual: A quick test.\nThis is a short test of the app view."


@pytest.fixture()
def app(browser: Any, server: Server) -> Iterator[Editor]:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    ed = Editor(page, server)
    yield ed
    context.close()
    assert not ed.errors, f"errors in the page: {ed.errors}"


def open_app(app: Editor, path: str) -> None:
    app.page.goto(f"{app.server.url}{path}")
    app.page.wait_for_function("window.reelapp && window.reelapp.interactiveMs > 0", timeout=30000)


def test_every_param_gets_the_widget_of_the_input_it_fills(app: Editor, server: Server) -> None:
    nodes = {
        "script": {"type": "text.Script", "type_version": 1, "inputs": {"text": "hi"}},
        "speak": {
            "type": "tts.Speak",
            "type_version": 1,
            "inputs": {"text": link("script", "text")},
        },
        "slow": {"type": "edtest.Slow", "type_version": 1, "inputs": {"steps": 3, "delay": 0.0}},
        "pic": {"type": "edtest.Seeded", "type_version": 1, "inputs": {"seed": 1, "picture": ""}},
    }
    params = {
        "story": {
            "node": "script",
            "input": "text",
            "type": "TEXT",
            "default": "Once upon a time",
            "label": "Your story",
            "description": "What the narrator reads, one scene per heading.",
        },
        "voice": {"node": "speak", "input": "voice", "type": "TEXT", "default": "en_US-joe-medium"},
        "steps": {"node": "slow", "input": "steps", "type": "INT", "default": 3},
        "picture": {"node": "pic", "input": "picture", "type": "TEXT", "default": ""},
    }
    server.put_workflow("form", workflow(nodes, params=params, name="Form test"))
    open_app(app, "/app/form")
    page = app.page
    assert page.locator("#canvas, .node, [data-node-id]").count() == 0  # nothing of the graph
    story = page.locator('[data-field="story"]')
    assert story.locator("label").inner_text() == "Your story"
    assert "one scene per heading" in story.locator(".help").inner_text()
    assert story.locator("textarea").input_value() == "Once upon a time"
    voice = page.locator('[data-field="voice"] select')
    assert "en_US-joe-medium" in voice.locator("option").all_inner_texts()
    steps = page.locator('[data-field="steps"] input[type=number]')
    assert steps.get_attribute("min") == "1" and steps.get_attribute("max") == "100000"
    assert page.locator('[data-field="steps"] label').inner_text() == "Steps"  # humanised name
    assert (
        page.locator('[data-field="picture"] input[type=file]').get_attribute("accept") == "image/*"
    )
    # a number out of its bounds is said before anything runs
    steps.fill("0")
    page.locator(".runbtn").click()
    err = page.locator('[data-field="steps"] .ferr')
    assert err.is_visible() and "from 1 to 100000" in err.inner_text()


def test_run_the_explainer_from_its_form(app: Editor, server: Server) -> None:
    open_app(app, "/app/explainer")
    page = app.page
    shot(page, "app-form")
    page.locator('[data-field="script"] textarea').fill(SCRIPT)
    page.evaluate(
        """() => { window.__words = new Set(); const el = document.querySelector('.stext');
        new MutationObserver(() => window.__words.add(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true }); }"""
    )
    page.locator(".runbtn").click()
    page.locator(".status").wait_for(state="visible")
    video = page.locator(".result video")
    video.wait_for(state="attached", timeout=240000)
    words = page.evaluate("[...window.__words]")
    assert any(
        w.startswith(("Narrating", "Drawing", "Saving", "Reading", "Animating")) for w in words
    ), words
    downloads = page.locator(".result a.dl").all_inner_texts()
    assert "Download MP4" in downloads and "Download subtitles (SRT)" in downloads
    src = video.get_attribute("src")
    assert src and src.endswith(".mp4")
    page.wait_for_function(
        "document.querySelector('.result video').readyState >= 1", timeout=30000
    )  # it loads and plays in the page
    assert page.evaluate("document.querySelector('.result video').duration") > 0.5
    page.locator(".earlier video").first.wait_for(state="attached", timeout=10000)
    shot(page, "app-result")
    # earlier results stay after a reload
    open_app(app, "/app/explainer")
    earlier = page.locator(".earlier video").first
    earlier.wait_for(state="attached", timeout=10000)
    # it shows a picture before it plays, not the black first frame of its fade-in
    page.wait_for_function(
        "document.querySelector('.earlier video').readyState >= 2", timeout=30000
    )
    import io

    from PIL import Image, ImageStat

    still = Image.open(io.BytesIO(earlier.screenshot())).convert("L")
    assert ImageStat.Stat(still).mean[0] > 25


def test_a_failure_is_said_in_plain_words_with_the_details_folded(app: Editor) -> None:
    open_app(app, "/app/slideshow")
    page = app.page
    # a file picker (audio.Load's path is an upload): as if the chosen file had gone missing
    page.locator('[data-field="music"] input[type=file]').wait_for(state="attached")
    page.evaluate("document.querySelector('#f-music').value = '/nowhere/missing-music.m4a'")
    page.locator(".runbtn").click()
    box = page.locator(".apperror, .field.bad")
    box.first.wait_for(state="visible", timeout=120000)
    text = page.locator(".appmain").inner_text()
    assert "could not be found" in text
    details = page.locator(".apperror details")
    if details.count():
        assert details.get_attribute("open") is None  # folded away
        assert "missing-music" in (details.locator("pre").text_content() or "")
    shot(page, "app-error")


def test_the_gallery_shows_cards_with_thumbnails_and_both_ways_in(app: Editor) -> None:
    open_app(app, "/app/")
    page = app.page
    card = page.locator('.card[data-name="demo_image"]')
    assert card.locator("h2").inner_text() == "Image basics"
    assert "2 settings" in card.locator(".cmeta").inner_text()
    assert card.locator(".cdesc").inner_text()
    assert card.locator("a", has_text="Open as app").get_attribute("href") == "/app/demo_image"
    assert (
        card.locator("a", has_text="Open in editor").get_attribute("href")
        == "/?workflow=demo_image"
    )
    card.locator(".thumb img").wait_for(state="attached", timeout=120000)
    page.wait_for_function(
        "document.querySelector('.card[data-name=demo_image] .thumb img').naturalWidth > 100"
    )
    if os.environ.get("REELGRAPH_DOC_IMG"):
        # the docs' picture shows every card with its thumbnail (minutes of runs)
        page.wait_for_function(
            "[...document.querySelectorAll('.card')].every(c => {"
            " const i = c.querySelector('.thumb img'); return i && i.naturalWidth > 100 })",
            timeout=600000,
        )
    shot(page, "gallery")
    # made once: the second time it is served straight from the data folder
    res = page.request.get(f"{app.server.url}/api/app/demo_image/thumbnail")
    assert res.status == 200 and res.headers["content-type"] == "image/png"
    thumbs = list((app.server.data / "thumbnails").glob("*.png"))
    assert thumbs


def test_the_editor_switches_to_the_app_view(editor: Editor) -> None:
    editor.open("?workflow=explainer")
    editor.page.locator("[data-act=app]").click()
    editor.page.wait_for_url("**/app/explainer")
    editor.page.wait_for_function("window.reelapp && window.reelapp.interactiveMs > 0")
    assert editor.page.locator('[data-field="script"] textarea').count() == 1


def test_a_sheet_dropped_on_the_batch_view_makes_one_video_per_row(app: Editor) -> None:
    import base64
    import io
    import zipfile

    page = app.page
    open_app(app, "/app/demo_image/batch")
    csv = "Colour,blur,notes\n#ff0000,1.5,first\n#00aa00,4,second\n"
    page.evaluate(
        """([b64]) => { const dt = new DataTransfer();
        dt.items.add(new File([atob(b64)], 'people.csv', { type: 'text/csv' }));
        for (const t of ['dragover', 'drop']) window.dispatchEvent(new DragEvent(t, { dataTransfer: dt, bubbles: true, cancelable: true })); }""",
        [base64.b64encode(csv.encode()).decode()],
    )
    table = page.locator(".maptable")
    table.wait_for(state="visible", timeout=20000)
    # matched by label ("Colour") and by name ("blur"); "notes" fills nothing
    sel = {
        c: page.locator(f'tr[data-col="{c}"] select').input_value()
        for c in ("Colour", "blur", "notes")
    }
    assert sel == {"Colour": "color", "blur": "blur", "notes": ""}
    assert page.locator('tr[data-col="Colour"] .sample').inner_text() == "#ff0000"
    # the user can change the mapping: un-map blur, then map it back
    page.locator('tr[data-col="blur"] select').select_option("")
    assert "Softness" in page.locator(".mapping").inner_text()  # now the same for every video
    page.locator('tr[data-col="blur"] select').select_option("blur")
    # row 1 as a still frame before anything runs
    page.locator(".stillimg img").wait_for(state="attached", timeout=120000)
    # it is row 1's picture: the colour of row 1 (red), not the workflow's default (blue)
    red = page.evaluate(
        """() => new Promise((done) => { const img = document.querySelector('.stillimg img');
        const go = () => { const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
          const g = c.getContext('2d'); g.drawImage(img, 0, 0); done([...g.getImageData(c.width / 2, c.height / 2, 1, 1).data]); };
        if (img.complete) go(); else img.onload = go; })"""
    )
    assert red[0] > 150 and red[2] < 100, red
    shot(page, "batch-mapping")
    page.locator(".runall").click()
    page.wait_for_function(
        "document.querySelectorAll('.rowgrid tbody tr.st-finished').length === 2", timeout=180000
    )
    assert (
        page.locator(".rowgrid tbody tr .rthumb img, .rowgrid tbody tr .rthumb video").count() == 2
    )
    assert "All done: 2 of 2 made" in page.locator(".batchrun .stext").inner_text()
    # how long each took, in words: a quick row is not "0 s"
    took = page.locator(".rowgrid tbody tr td:nth-child(5)").all_inner_texts()
    assert all(t and t != "0 s" for t in took), took
    page.locator(".batchrun").scroll_into_view_if_needed()
    shot(page, "batch-grid")
    href = page.locator("a.zip").get_attribute("href")
    res = page.request.get(f"{app.server.url}{href}")
    assert res.status == 200 and res.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(res.body())).namelist()
    assert any(n.startswith("0001-") for n in names) and any(n.startswith("0002-") for n in names)


def test_gallery_cards_show_their_whole_description_and_a_vertical_frame_uncropped(
    app: Editor,
) -> None:
    """Descriptions were clamped with an ellipsis, and the vertical short's frame was cropped
    to 16:9 (its title cut at the top)."""
    open_app(app, "/app/")
    page = app.page
    cut = page.locator(".card .cdesc").evaluate_all(
        "els => els.filter((e) => e.scrollHeight > e.clientHeight + 1).map((e) => e.textContent)"
    )
    assert cut == []
    page.wait_for_function(
        "document.querySelector('.card[data-name=short] .thumb img')?.naturalWidth > 0",
        timeout=180000,
    )
    w, h = page.evaluate(
        "(() => { const i = document.querySelector('.card[data-name=short] .thumb img'); return [i.naturalWidth, i.naturalHeight]; })()"
    )
    assert h > w * 1.5, (w, h)  # 9:16, as the video is
    # and it shows whole inside the card's 16:9 box
    assert (
        page.evaluate(
            "getComputedStyle(document.querySelector('.card[data-name=short] .thumb img')).objectFit"
        )
        == "contain"
    )


def test_the_run_footer_spans_the_form_with_an_edge(app: Editor) -> None:
    """At 1280 x 720 the sticky Run bar covered the Voice field with the form's own colour and
    no edge, so the field read as missing."""
    open_app(app, "/app/explainer")
    page = app.page
    form = page.locator(".appform").bounding_box()
    bar = page.locator(".formacts")
    box = bar.bounding_box()
    assert abs(box["x"] - form["x"]) <= 2 and abs(box["width"] - form["width"]) <= 2, (box, form)
    assert bar.evaluate("el => parseFloat(getComputedStyle(el).borderTopWidth)") >= 1
    # it does cover part of a field here (the form is taller than the window): that field
    # goes on below the bar's edge, and moving to it with the keyboard brings it out
    voice = page.locator('[data-field="voice"] select')
    voice.focus()
    page.evaluate(
        "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )
    v, b = voice.bounding_box(), bar.bounding_box()
    assert v["y"] + v["height"] <= b["y"] + 1, (v, b)
