"""Format presets: the frame sizes videos are published at, and where text may go.

One table holds every preset. Each has a safe area: the part of the frame that no
platform UI covers. On vertical video (TikTok, Reels, Shorts) the top bar, the
caption/description block at the bottom and the like/comment/share column on the
right sit over the picture, so captions, titles and logos stay out of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from reelgraph import FLOAT, INT, TEXT, Combo, Float, Int, NodeInputError, node, register_type

# A safe-area record: a plain dict (cache keys follow its content) with the frame size,
# the safe rectangle in pixels and the named platform-UI regions it avoids.
SAFE_AREA = register_type(
    "SAFE_AREA", "#26a69a", "Frame size, the safe rectangle for text, and platform-UI regions"
)

# A brand kit record (brand.Kit): a plain dict of colours, fonts, logo and card texts.
BRAND = register_type("BRAND", "#7e57c2", "A brand kit: logo, colours, fonts, intro and outro")


@dataclass(frozen=True)
class Preset:
    width: int
    height: int
    # Margins as fractions of the frame (left and right of the width, top and bottom of
    # the height) that text and logos keep clear of.
    left: float
    top: float
    right: float
    bottom: float
    label: str
    # Platform UI drawn over the picture: name -> (x0, y0, x1, y1) as fractions.
    ui: tuple[tuple[str, tuple[float, float, float, float]], ...] = ()


# Vertical: the platforms' overlays. The right column (like, comment, share, profile)
# runs from about 45% to 85% of the height in the right 15%; the description and
# sound ticker fill the bottom ~20%; the top bar (tabs, search) the top ~10%.
_VERTICAL_UI = (
    ("top_bar", (0.0, 0.0, 1.0, 0.10)),
    ("like_column", (0.85, 0.40, 1.0, 0.86)),
    ("description", (0.0, 0.80, 0.85, 1.0)),
)
_VERTICAL = {"left": 0.06, "top": 0.11, "right": 0.16, "bottom": 0.22, "ui": _VERTICAL_UI}
# Landscape, square and feed: the classic 5% title-safe margin, a little more at the
# bottom of feed posts where the platform's progress bar and sound toggle sit.
_TITLE_SAFE = {"left": 0.05, "top": 0.05, "right": 0.05, "bottom": 0.06}

PRESETS: dict[str, Preset] = {
    "landscape_1080p": Preset(1920, 1080, **_TITLE_SAFE, label="Landscape 16:9, 1920x1080"),
    "landscape_720p": Preset(1280, 720, **_TITLE_SAFE, label="Landscape 16:9, 1280x720"),
    "vertical_1080p": Preset(1080, 1920, **_VERTICAL, label="Vertical 9:16, 1080x1920"),
    "vertical_720p": Preset(720, 1280, **_VERTICAL, label="Vertical 9:16, 720x1280"),
    "square": Preset(1080, 1080, **_TITLE_SAFE, label="Square 1:1, 1080x1080"),
    "feed": Preset(
        1080, 1350, left=0.06, top=0.05, right=0.06, bottom=0.08, label="Feed 4:5, 1080x1350"
    ),
}
PRESET_NAMES = (*PRESETS, "custom")


def aspect_kind(width: int, height: int) -> str:
    """'vertical' (taller than 4:5), 'landscape' (wider than 5:4) or 'square'."""
    r = width / height
    return "vertical" if r < 0.79 else "landscape" if r > 1.26 else "square"


def preset_for(name: str, width: int = 0, height: int = 0) -> Preset:
    """The preset by name; 'custom' takes `width` x `height` (even, at least 64) and the
    margins of the aspect it is closest to."""
    if name in PRESETS:
        return PRESETS[name]
    if name != "custom":
        raise ValueError(f"unknown format {name!r}; use one of {', '.join(PRESET_NAMES)}")
    for what, v in (("width", width), ("height", height)):
        if v < 64:
            raise ValueError(f"custom {what} {v} is too small (at least 64 pixels)")
        if v % 2:
            raise ValueError(
                f"custom {what} {v} is odd: H.264 (yuv420p) needs even sizes; use {v - 1} or {v + 1}"
            )
    kind = aspect_kind(width, height)
    like = {"vertical": "vertical_1080p", "landscape": "landscape_1080p"}.get(kind, "square")
    p = PRESETS[like]
    return Preset(width, height, p.left, p.top, p.right, p.bottom, f"Custom {width}x{height}", p.ui)


def safe_area(p: Preset, name: str = "") -> dict[str, Any]:
    """The record nodes lay themselves out with: pixel rectangle x0, y0, x1, y1 (x1/y1
    exclusive), the frame size, the aspect kind and the platform-UI boxes in pixels."""
    W, H = p.width, p.height
    return {
        "preset": name,
        "width": W,
        "height": H,
        "kind": aspect_kind(W, H),
        "x0": round(W * p.left),
        "y0": round(H * p.top),
        "x1": W - round(W * p.right),
        "y1": H - round(H * p.bottom),
        "ui": {
            k: [round(a * W), round(b * H), round(c * W), round(d * H)] for k, (a, b, c, d) in p.ui
        },
    }


def default_safe_area(width: int, height: int) -> dict[str, Any]:
    """The safe area of a frame size when no preset is linked: the preset of that exact
    size, else the margins of its aspect."""
    for name, p in PRESETS.items():
        if (p.width, p.height) == (width, height):
            return safe_area(p, name)
    w, h = width + width % 2, height + height % 2
    return safe_area(preset_for("custom", max(64, w), max(64, h)), "custom") | {
        "width": width,
        "height": height,
    }


def text_area(area: dict[str, Any] | None, width: int, height: int) -> dict[str, Any] | None:
    """The rectangle overlays (labels, burned subtitles) keep to: a linked safe area moved
    to the frame size, else on vertical video the default one (the platform UI covers
    the bottom and the right column there); None on other aspects (their margins do)."""
    if area is not None:
        return scaled_safe_area(area, width, height)
    if aspect_kind(width, height) == "vertical":
        return default_safe_area(width, height)
    return None


def place_in(
    pos: str, area: dict[str, Any] | None, W: int, H: int, w: int, h: int, margin: int
) -> tuple[int, int]:
    """Where a w x h overlay at `pos` (top_left ... bottom_right, center) goes: `margin`
    from the frame edges, and inside `area` when there is one."""
    x0, y0, x1, y1 = margin, margin, W - margin, H - margin
    if area is not None:
        x0, y0 = max(x0, area["x0"]), max(y0, area["y0"])
        x1, y1 = min(x1, area["x1"]), min(y1, area["y1"])
    vert, _, horiz = pos.partition("_") if pos != "center" else ("center", "", "center")
    x = {"left": x0, "right": x1 - w}.get(horiz, (x0 + x1 - w) // 2)
    y = {"top": y0, "bottom": y1 - h}.get(vert, (y0 + y1 - h) // 2)
    return max(0, min(x, W - w)), max(0, min(y, H - h))


def scaled_safe_area(area: dict[str, Any], width: int, height: int) -> dict[str, Any]:
    """`area` moved to another frame size (a preset linked to a video of another size)."""
    if (area["width"], area["height"]) == (width, height):
        return area
    sx, sy = width / area["width"], height / area["height"]
    out = dict(area, width=width, height=height)
    out.update(
        x0=round(area["x0"] * sx),
        y0=round(area["y0"] * sy),
        x1=round(area["x1"] * sx),
        y1=round(area["y1"] * sy),
    )
    out["ui"] = {
        k: [round(b[0] * sx), round(b[1] * sy), round(b[2] * sx), round(b[3] * sy)]
        for k, b in area.get("ui", {}).items()
    }
    return out


def _check(values: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        preset_for(
            str(values.get("preset", "")), int(values.get("width", 0)), int(values.get("height", 0))
        )
    except ValueError as exc:
        return [
            (
                "width" if "width" in str(exc) else "height" if "height" in str(exc) else "preset",
                str(exc),
            )
        ]
    return []


@node(
    "format.Preset",
    category="video/format",
    outputs={
        "width": INT,
        "height": INT,
        "fps": FLOAT,
        "safe_area": SAFE_AREA,
        "margin": FLOAT,
        "reserve_bottom": FLOAT,
        "kind": TEXT,
    },
    validate=_check,
)
def preset(
    preset: Annotated[str, Combo(PRESET_NAMES)] = "landscape_720p",
    width: Annotated[int, Int(0, 7680, 2)] = 0,
    height: Annotated[int, Int(0, 4320, 2)] = 0,
    fps: Annotated[float, Float(1.0, 120.0, 1.0)] = 30.0,
    caption_band: Annotated[float, Float(0.0, 0.5, 0.01)] = 0.12,
) -> Any:
    """A publishing format: landscape 1920x1080 / 1280x720, vertical 1080x1920 / 720x1280,
    square 1080x1080, feed 1080x1350, or `custom` (width x height, both even). Link
    `width`, `height` and `fps` into title cards, clips and presenters so every node
    uses one size; `safe_area` tells captions, logos and end cards where platform UI
    covers the picture (on vertical video: the top bar, the description at the bottom
    and the like/comment column on the right). `margin` and `reserve_bottom` fit a
    slides.TitleCard inside the safe area, keeping `caption_band` (a fraction of the
    height) free above it for captions."""
    try:
        p = preset_for(preset, width, height)
    except ValueError as exc:
        where = "width" if "width" in str(exc) else "height" if "height" in str(exc) else "preset"
        raise NodeInputError(where, str(exc)) from None
    # A title card's margin is one fraction for both axes: the larger of what the sides
    # need (of the width) and what the top needs (of the height).
    margin = max(p.left, p.right, p.top * p.height / p.width)
    margin = round(min(0.4, margin), 3)
    reserve = round(min(0.5, p.bottom + caption_band), 3)
    kind = aspect_kind(p.width, p.height)
    return p.width, p.height, float(fps), safe_area(p, preset), margin, reserve, kind
