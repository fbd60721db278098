"""Editing one scene of a script re-renders and re-speaks only that scene."""

from __future__ import annotations

from .helpers import link, workflow

SCRIPT = "# One\nThe first scene.\n\n# Two\nThe second scene.\n\n# Three\nThe third scene.\n"


def _run(engine, tmp_path, script):
    wf = workflow({
        "script": ("text.Script", {"text": script}),
        "split": ("text.SplitScenes", {"text": link("script", "text")}),
        "card": ("slides.TitleCard", {"scene": link("split", "scenes"), "width": 96, "height": 64}),
        "fields": ("text.SceneFields", {"scene": link("split", "scenes")}),
        "speak": ("tts.Speak", {"text": link("fields", "narration")}),
    })
    computed: dict[str, list[int]] = {}

    def listener(ev):
        if ev.type == "node.progress" and "item" in ev.data and ev.node_id in ("card", "speak"):
            computed.setdefault(ev.node_id, []).append(ev.data["item"])

    res = engine.run(wf, out_dir=tmp_path, targets=["card", "speak"], listener=listener)
    assert res.status == "finished", res.failed
    return res, computed


def test_editing_one_scene_recomputes_only_it(engine, tmp_path):
    first, computed = _run(engine, tmp_path, SCRIPT)
    assert computed == {"card": [0, 1, 2], "speak": [0, 1, 2]}
    edited = SCRIPT.replace("The second scene.", "The second scene, now longer.")
    second, computed = _run(engine, tmp_path, edited)
    assert computed == {"card": [1], "speak": [1]}
    a, b = first.outputs["speak"]["audio"], second.outputs["speak"]["audio"]
    assert a[0] is b[0] and a[2] is b[2] and b[1].duration > a[1].duration
