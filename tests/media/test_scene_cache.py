"""Editing one scene of a script re-renders and re-speaks only that scene."""

from __future__ import annotations

from .helpers import link, workflow

SCRIPT = "# One\nThe first scene.\n\n# Two\nThe second scene.\n\n# Three\nThe third scene.\n"


def _run(engine, tmp_path, script):
    wf = workflow(
        {
            "script": ("text.Script", {"text": script}),
            "split": ("text.SplitScenes", {"text": link("script", "text")}),
            "card": (
                "slides.TitleCard",
                {"scene": link("split", "scenes"), "width": 96, "height": 64},
            ),
            "fields": ("text.SceneFields", {"scene": link("split", "scenes")}),
            "speak": ("tts.Speak", {"text": link("fields", "narration")}),
        }
    )
    previews = []

    def listener(ev):
        if ev.type == "node.preview" and ev.node_id == "card":
            previews.append(ev.data["item"])

    res = engine.run(wf, out_dir=tmp_path, targets=["card", "speak"], listener=listener)
    assert res.status == "finished", res.failed
    return res.outputs, previews


def test_editing_one_scene_recomputes_only_it(engine, tmp_path):
    first, previews = _run(engine, tmp_path, SCRIPT)
    assert previews == [0, 1, 2]  # every card rendered (and previewed) once
    edited = SCRIPT.replace("The second scene.", "The second scene, now longer.")
    second, previews = _run(engine, tmp_path, edited)
    assert previews == [1]  # only the edited scene's card is rendered again
    for name, output in (("card", "image"), ("speak", "audio"), ("speak", "timings")):
        a, b = first[name][output], second[name][output]
        assert a[0] is b[0] and a[2] is b[2], name  # taken from the cache as they were
        assert a[1] is not b[1], name
    assert second["speak"]["audio"][1].duration > first["speak"]["audio"][1].duration
