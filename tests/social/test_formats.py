"""Format presets: the table, safe areas clear of platform UI, sizes linked into other
nodes, and clear errors for sizes H.264 cannot take."""

from __future__ import annotations

import json

import pytest

from reelgraph.nodes.formats import PRESETS, preset_for, safe_area

from ..media.helpers import link, workflow

EXPECTED = {
    "landscape_1080p": (1920, 1080),
    "landscape_720p": (1280, 720),
    "vertical_1080p": (1080, 1920),
    "vertical_720p": (720, 1280),
    "square": (1080, 1080),
    "feed": (1080, 1350),
}


def overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_the_table_has_every_preset_with_even_sizes():
    assert {k: (p.width, p.height) for k, p in PRESETS.items()} == EXPECTED
    for p in PRESETS.values():
        assert p.width % 2 == 0 and p.height % 2 == 0


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_safe_area_is_inside_the_frame_and_clear_of_platform_ui(name):
    a = safe_area(PRESETS[name], name)
    assert 0 < a["x0"] < a["x1"] < a["width"] and 0 < a["y0"] < a["y1"] < a["height"]
    rect = (a["x0"], a["y0"], a["x1"], a["y1"])
    for region, box in a["ui"].items():
        assert not overlaps(rect, box), (name, region)
    if name.startswith("vertical"):
        assert set(a["ui"]) == {"top_bar", "like_column", "description"}
        # the like/comment column is on the right: the safe area stops before it
        assert a["x1"] <= a["ui"]["like_column"][0]
        assert a["width"] - a["x1"] > a["x0"]  # more room kept on the right than the left


def test_custom_sizes_must_be_even_and_take_their_aspects_margins():
    with pytest.raises(ValueError, match="odd"):
        preset_for("custom", 721, 1280)
    with pytest.raises(ValueError, match="unknown format"):
        preset_for("cinema", 0, 0)
    p = preset_for("custom", 540, 960)
    assert (p.width, p.height) == (540, 960) and p.right == PRESETS["vertical_1080p"].right


def test_preset_sizes_link_into_title_cards_and_clips(engine):
    wf = workflow(
        {
            "fmt": ("format.Preset", {"preset": "custom", "width": 180, "height": 320, "fps": 12}),
            "card": (
                "slides.TitleCard",
                {
                    "title": "Vertical",
                    "width": link("fmt", "width"),
                    "height": link("fmt", "height"),
                    "margin": link("fmt", "margin"),
                    "reserve_bottom": link("fmt", "reserve_bottom"),
                },
            ),
            "clip": (
                "video.ImageToClip",
                {"image": link("card", "image"), "duration": 1.0, "fps": link("fmt", "fps")},
            ),
            "info": ("video.Info", {"video": link("clip", "video")}),
        }
    )
    res = engine.run(wf, targets=["info", "fmt"])
    assert res.status == "finished", res.failed
    info = res.outputs["info"]
    assert (info["width"], info["height"], info["fps"]) == (180, 320, 12.0)
    assert res.outputs["fmt"]["kind"] == "vertical"
    area = res.outputs["fmt"]["safe_area"]
    assert area["width"] == 180 and area["x1"] < 180 - 20


def test_odd_custom_size_is_a_validation_error_naming_node_and_input(registry):
    from reelgraph.engine import validate_workflow

    wf = workflow({"fmt": ("format.Preset", {"preset": "custom", "width": 641, "height": 360})})
    issues = [i for i in validate_workflow(wf, registry) if i.severity == "error"]
    assert issues, "an odd width must not validate"
    assert any(i.node == "fmt" and "even" in i.message for i in issues), [
        (i.node, i.input, i.message) for i in issues
    ]
    wf = workflow({"fmt": ("format.Preset", {"preset": "ultrawide"})})
    issues = [i for i in validate_workflow(wf, registry) if i.severity == "error"]
    assert any(i.input == "preset" for i in issues)
    json.dumps([i.message for i in issues])  # messages are plain text
