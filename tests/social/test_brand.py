"""Brand kit: the kit feeds title cards, captions, the watermark and the end card; bad
logos and fonts are clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from reelgraph import NodeInputError
from reelgraph.nodes.brand import card, kit, load_logo, watermark
from reelgraph.nodes.formats import PRESETS, safe_area

from ..media.helpers import link, workflow
from .conftest import ROOT

LOGO = str(ROOT / "reelgraph" / "workflows" / "assets" / "logo.png")
ACCENT = (252, 163, 17)


def _brand(**kw):
    return kit(
        name="Brightleaf", logo=LOGO, cta="Claim your offer", url="brightleaf.example", **kw
    )[0]


def _near(img, rgb, tol=30):
    return np.abs(img.astype(np.int16) - np.array(rgb)).max(axis=-1) <= tol


@pytest.mark.parametrize("size", [(360, 640), (640, 360), (432, 540)])
def test_end_card_lays_out_inside_the_safe_area_for_each_aspect(size):
    w, h = size
    area = safe_area(
        __import__("reelgraph.nodes.formats", fromlist=["preset_for"]).preset_for("custom", w, h)
    )
    img = card(_brand(), kind="outro", title="20% off", width=w, height=h, safe_area=area).pixels[0]
    assert img.shape == (h, w, 3)
    # the call-to-action button (accent colour) and the logo badge are inside the safe area
    ys, xs = np.nonzero(_near(img, ACCENT, 12))
    assert xs.size > 200
    assert xs.min() >= area["x0"] and xs.max() < area["x1"]
    assert ys.min() >= area["y0"] and ys.max() < area["y1"]
    # white text (title, URL) is inside it too
    ys, xs = np.nonzero(_near(img, (255, 255, 255), 20))
    assert xs.size and xs.min() >= area["x0"] and xs.max() < area["x1"]


def test_watermark_places_the_logo_at_its_opacity_and_skips_the_cards():
    import torch

    from reelgraph.media import TensorVideo

    w, h, fps = 360, 640, 10.0
    base = TensorVideo(torch.full((30, h, w, 3), 40, dtype=torch.uint8), fps=fps)
    clips = [TensorVideo(torch.zeros(10, h, w, 3, dtype=torch.uint8), fps=fps) for _ in range(3)]
    area = safe_area(PRESETS["vertical_720p"])
    v = watermark(
        base, _brand(), safe_area=area, position="top_left", scale=0.3, opacity=0.5, clips=clips
    )
    frames = torch.cat(list(v.chunks(8))).numpy()
    assert (frames[:10] == 40).all() and (frames[20:] == 40).all()  # not over the intro/end card
    mid = frames[15].astype(np.int16)
    ys, xs = np.nonzero(np.abs(mid - 40).max(axis=-1) > 10)
    sx, sy = area["x0"] * w / area["width"], area["y0"] * h / area["height"]
    assert xs.min() >= sx - 1 and ys.min() >= sy - 1  # inside the safe area's top-left
    # the badge's orange at half opacity over grey 40
    expect = np.array(ACCENT) * 0.5 + 40 * 0.5
    assert _near(mid, expect, 6).sum() > 100


def test_kit_colours_and_font_link_into_a_title_card(engine):
    wf = workflow(
        {
            "kit": (
                "brand.Kit",
                {
                    "logo": LOGO,
                    "primary": "#203040",
                    "secondary": "#405060",
                    "accent": "#ff0000",
                    "title_font": "light",
                },
            ),
            "linked": (
                "slides.TitleCard",
                {
                    "title": "Brand",
                    "width": 160,
                    "height": 90,
                    "palette": "custom",
                    "color1": link("kit", "color1"),
                    "color2": link("kit", "color2"),
                    "accent": link("kit", "accent"),
                    "text_color": link("kit", "text_color"),
                    "font": link("kit", "title_font"),
                },
            ),
            "literal": (
                "slides.TitleCard",
                {
                    "title": "Brand",
                    "width": 160,
                    "height": 90,
                    "palette": "custom",
                    "color1": "#203040",
                    "color2": "#405060",
                    "accent": "#ff0000",
                    "font": "light",
                },
            ),
        }
    )
    res = engine.run(wf, targets=["linked", "literal"])
    assert res.status == "finished", res.failed
    assert (res.outputs["linked"]["image"].pixels == res.outputs["literal"]["image"].pixels).all()


def test_a_logo_that_is_not_an_image_is_a_clear_error(tmp_path, registry):
    from reelgraph.engine import validate_workflow

    fake = tmp_path / "logo.png"
    fake.write_text("this is not a picture")
    with pytest.raises(NodeInputError, match="not an image") as e:
        load_logo(str(fake))
    assert e.value.input == "logo"
    with pytest.raises(NodeInputError, match="not an image"):
        kit(logo=str(fake))
    wf = workflow(
        {
            "kit": (
                "brand.Kit",
                {"logo": str(tmp_path / "gone.png"), "font_file": str(tmp_path / "gone.ttf")},
            )
        }
    )
    issues = {(i.node, i.input) for i in validate_workflow(wf, registry) if i.severity == "error"}
    assert {("kit", "logo"), ("kit", "font_file")} <= issues


def test_a_missing_or_broken_font_is_a_clear_error(tmp_path):
    bad = tmp_path / "Broken.ttf"
    bad.write_bytes(b"\0" * 64)
    with pytest.raises(NodeInputError, match="not a font") as e:
        kit(font_file=str(bad))
    assert e.value.input == "font_file"
    with pytest.raises(NodeInputError, match=r"colou?r|hex"):
        kit(accent="orange-ish")
