"""Slide rendering: title cards with wrapped text over gradient, solid or image backgrounds."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from reelgraph import IMAGE, Combo, Context, Float, Image, Int, NodeInputError, Text, node, socket
from reelgraph.media import SCENE, PixelImage, image_pixels

from .image import image_bytes, parse_hex_color
from .typography import FONT_STYLES, fit_font, line_height, load_font, script_of, text_width

# Scripts written right to left: a card's "left" alignment becomes their start edge, the right.
RTL_SCRIPTS = frozenset({"arabic", "hebrew"})

# (from, to, accent): dark, saturated pairs that keep white text readable.
PALETTES = (
    ("#0f2027", "#2c5364", "#ffb300"),
    ("#2b1055", "#7597de", "#ffd54f"),
    ("#134e5e", "#3a9b6f", "#fff59d"),
    ("#42275a", "#a4508b", "#80deea"),
    ("#1a2a6c", "#b21f1f", "#ffe082"),
    ("#232526", "#5b6b7a", "#4fc3f7"),
)


def _rgb255(text: str, name: str) -> tuple[int, int, int]:
    try:
        return tuple(round(c * 255) for c in parse_hex_color(text))  # type: ignore[return-value]
    except ValueError as exc:
        raise NodeInputError(name, str(exc)) from None


def gradient_background(
    width: int, height: int, c1: tuple[int, int, int], c2: tuple[int, int, int]
) -> Any:
    """Diagonal gradient with a soft light from the top left and a vignette: uint8 [H,W,3].
    Computed at a quarter of the size (it is smooth) and scaled up, then dithered."""
    import cv2
    import numpy as np

    w, h = max(2, width // 4), max(2, height // 4)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    x, y = x / max(1, w - 1), y / max(1, h - 1)
    t = x * 0.6 + y * 0.4
    t = t * t * (3 - 2 * t)  # smoothstep: gentler ends
    a, b = np.array(c1, np.float32), np.array(c2, np.float32)
    img = a + (b - a) * t[..., None]
    d2 = (x - 0.25) ** 2 + (y - 0.2) ** 2
    img += (np.exp(-d2 / 0.08) * 28)[..., None]  # glow
    v = np.hypot((x - 0.5) * 1.2, (y - 0.5) * 1.2)
    img *= (1 - 0.35 * np.clip(v - 0.3, 0, 1))[..., None]  # vignette
    img = cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)
    # A little fixed-seed dither keeps 8-bit gradients (and the encoder) from banding;
    # rounded and saturated to 8 bits in one pass (the sum is never below -1).
    return cv2.convertScaleAbs(cv2.add(img, _dither(width, height)))


@functools.lru_cache(maxsize=2)
def _dither(width: int, height: int) -> Any:
    """The same noise for every card of a size (drawing it cost a fifth of a card)."""
    import numpy as np

    noise = np.random.default_rng(0).uniform(-1.0, 1.0, (height, width, 1)).astype(np.float32)
    noise = np.repeat(noise, 3, axis=2)
    noise.flags.writeable = False
    return noise


def cover_fit(img: Any, width: int, height: int) -> Any:
    """Scale and centre-crop a uint8 [H,W,3] image to fill width x height."""
    import cv2

    h, w = img.shape[:2]
    s = max(width / w, height / h)
    nw, nh = max(width, round(w * s)), max(height, round(h * s))
    r = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    x0, y0 = (nw - width) // 2, (nh - height) // 2
    return r[y0 : y0 + height, x0 : x0 + width]


def render_card(
    title: str,
    body: str,
    *,
    width: int,
    height: int,
    background: str,
    color1: str,
    color2: str,
    accent: str,
    text_color: str,
    image: Any = None,
    dim: float = 0.45,
    margin: float = 0.08,
    title_size: float = 0.085,
    body_size: float = 0.042,
    align: str = "left",
    font: str = "bold",
    kicker: str = "",
    reserve_bottom: float = 0.16,
    decorate: bool = True,
    seed: int = 0,
) -> Any:
    """Render a title card; returns uint8 [H,W,3] numpy."""
    import numpy as np
    from PIL import Image as PILImage
    from PIL import ImageDraw

    c1, c2 = _rgb255(color1, "color1"), _rgb255(color2, "color2")
    acc, fg = _rgb255(accent, "accent"), _rgb255(text_color, "text_color")
    if background == "gradient":
        bg = gradient_background(width, height, c1, c2)
    elif background == "solid":
        bg = np.empty((height, width, 3), np.uint8)
        bg[:] = c1
    elif background == "image":
        if image is None:
            raise NodeInputError("image", "background 'image' needs an image linked")
        src = image_pixels(image)
        bg = cover_fit(src, width, height).astype(np.float32)
        # darken towards colour 1 so text stays readable
        bg = (bg * (1 - dim) + np.array(c1, np.float32) * dim + 0.5).astype(np.uint8)
    else:
        raise NodeInputError("background", f"unknown background {background!r}")
    canvas = PILImage.fromarray(bg)
    if decorate:
        canvas = _decorate(canvas, acc, seed)
    draw = ImageDraw.Draw(canvas)
    mx, my = int(width * margin), int(height * margin)
    inner_w = width - 2 * mx
    bottom = height - max(my, int(height * reserve_bottom))
    tfont, tlines = (
        fit_font(title, font, int(height * title_size), inner_w, 3) if title.strip() else (None, [])
    )
    bfont, blines = (
        fit_font(body, "regular", int(height * body_size), inner_w * 0.92, 4, min_size=12)
        if body.strip()
        else (None, [])
    )
    kfont = load_font("medium", max(10, int(height * 0.03)))
    bar_h, gap = max(2, int(height * 0.008)), int(height * 0.035)
    block = 0
    if kicker:
        block += line_height(kfont, 1.0) + gap // 2
    if tlines:
        block += line_height(tfont, 1.08) * len(tlines) + gap + bar_h
    if blines:
        block += gap + line_height(bfont, 1.3) * len(blines)
    y = my + max(0, (bottom - my - block) // 2)

    if script_of(f"{title} {body}") in RTL_SCRIPTS:
        # right-to-left text starts at the right: "left" means the start edge of the line
        align = {"left": "right", "right": "left"}.get(align, align)

    def x_for(w: float) -> float:
        return {"left": mx, "right": width - mx - w}.get(align, (width - w) / 2)

    def text(xy: tuple[float, float], s: str, f: Any, fill: tuple[int, ...]) -> None:
        sh = max(1, int(height * 0.003))
        draw.text((xy[0] + sh, xy[1] + sh), s, font=f, fill=(0, 0, 0))
        draw.text(xy, s, font=f, fill=fill)

    if kicker:
        draw.text((x_for(text_width(kfont, kicker)), y), kicker, font=kfont, fill=acc)
        y += line_height(kfont, 1.0) + gap // 2
    if tlines:
        lh = line_height(tfont, 1.08)
        for ln in tlines:
            text((x_for(text_width(tfont, ln)), y), ln, tfont, fg)
            y += lh
        y += gap // 2
        bw = int(width * 0.08)
        bx = x_for(bw)
        draw.rounded_rectangle((bx, y, bx + bw, y + bar_h), radius=bar_h // 2, fill=acc)
        y += bar_h + gap // 2
    if blines:
        y += gap // 2
        soft = tuple(int(c * 0.86 + 255 * 0.14 * (c > 128)) for c in fg)
        lh = line_height(bfont, 1.3)
        for ln in blines:
            text((x_for(text_width(bfont, ln)), y), ln, bfont, soft)
            y += lh
    return np.asarray(canvas)


def _decorate(canvas: Any, accent: tuple[int, int, int], seed: int) -> Any:
    """Quiet shapes in the accent colour on the right-hand side, placed by `seed`. They
    are drawn and blended in the box they cover, not over the whole card."""
    import math
    import random

    from PIL import Image as PILImage
    from PIL import ImageDraw

    W, H = canvas.size
    rng = random.Random(seed)
    cx, cy, r = (
        W * rng.uniform(0.74, 0.82),
        H * rng.uniform(0.32, 0.48),
        H * rng.uniform(0.27, 0.33),
    )
    cx2, cy2, r2 = cx + r * rng.uniform(0.25, 0.45), cy + r * rng.uniform(0.35, 0.6), r * 0.7
    cx3, cy3, r3 = cx - r * rng.uniform(0.7, 0.9), cy - r * rng.uniform(0.6, 0.8), H * 0.018
    circles = ((cx, cy, r), (cx2, cy2, r2), (cx3, cy3, r3))
    # whole pixels, so the shapes land on the same pixels as on a full-size layer
    x0 = max(0, math.floor(min(x - rr for x, _, rr in circles)) - 2)
    y0 = max(0, math.floor(min(y - rr for _, y, rr in circles)) - 2)
    x1 = min(W, math.ceil(max(x + rr for x, _, rr in circles)) + 3)
    y1 = min(H, math.ceil(max(y + rr for _, y, rr in circles)) + 3)
    if x1 <= x0 or y1 <= y0:
        return canvas
    layer = PILImage.new("RGBA", (x1 - x0, y1 - y0), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)

    def box(x: float, y: float, rr: float) -> tuple[float, float, float, float]:
        return (x - rr - x0, y - rr - y0, x + rr - x0, y + rr - y0)

    d.ellipse(box(cx, cy, r), fill=(*accent, 20))
    d.ellipse(box(cx2, cy2, r2), outline=(*accent, 60), width=max(1, round(H * 0.008)))
    d.ellipse(box(cx3, cy3, r3), fill=(*accent, 150))
    region = canvas.crop((x0, y0, x1, y1)).convert("RGBA")
    canvas.paste(PILImage.alpha_composite(region, layer).convert("RGB"), (x0, y0))
    return canvas


BACKGROUNDS = ("gradient", "solid", "image")
ALIGNS = ("left", "center", "right")


@node(
    "slides.TitleCard",
    category="image/slides",
    outputs={"image": IMAGE},
    estimate_bytes=lambda values: image_bytes({**values, "batch": 1}),
    pixel_images=True,
)
def title_card(
    title: Annotated[str, Text(placeholder="Title")] = "",
    body: Annotated[str, Text(multiline=True)] = "",
    scene: socket(SCENE) = None,
    image: Image = None,
    width: Annotated[int, Int(64, 7680, 2)] = 1280,
    height: Annotated[int, Int(64, 4320, 2)] = 720,
    background: Annotated[str, Combo(BACKGROUNDS)] = "gradient",
    palette: Annotated[str, Combo(("auto", "custom"))] = "auto",
    color1: str = "#0f2027",
    color2: str = "#2c5364",
    accent: str = "#ffb300",
    text_color: str = "#ffffff",
    align: Annotated[str, Combo(ALIGNS)] = "left",
    font: Annotated[str, Combo(FONT_STYLES)] = "bold",
    title_size: Annotated[float, Float(0.02, 0.3, 0.005)] = 0.085,
    body_size: Annotated[float, Float(0.01, 0.2, 0.005)] = 0.042,
    margin: Annotated[float, Float(0.0, 0.4, 0.01)] = 0.08,
    reserve_bottom: Annotated[float, Float(0.0, 0.5, 0.01)] = 0.16,
    show_number: bool = True,
    decorate: bool = True,
    ctx: Context = None,
) -> Any:
    """A slide: a title, an accent bar and body text, word-wrapped inside safe margins
    (`reserve_bottom` keeps room for subtitles), over a gradient, a solid colour or an
    image (darkened). Link a `scene` to take its title and visual prompt as the text;
    `palette` auto then gives each scene its own colours. `decorate` adds quiet accent
    shapes on the right. Sizes are fractions of the height. The card is drawn in
    8 bits and kept so (a PixelImage: nodes that take tensors get float32)."""
    kicker = ""
    if scene is not None:
        title = title or scene.title
        body = body or (scene.visual if scene.visual != scene.narration else "")
        if show_number:
            kicker = f"{scene.index + 1:02d}"
        if palette == "auto":
            color1, color2, accent = PALETTES[scene.index % len(PALETTES)]
    if not title.strip() and not body.strip():
        raise NodeInputError("title", "a title card needs a title or body text")
    px = render_card(
        title,
        body,
        width=width,
        height=height,
        background=background,
        color1=color1,
        color2=color2,
        accent=accent,
        text_color=text_color,
        image=image,
        margin=margin,
        title_size=title_size,
        body_size=body_size,
        align=align,
        font=font,
        kicker=kicker,
        reserve_bottom=reserve_bottom,
        decorate=decorate,
        seed=scene.index if scene is not None else 0,
    )
    out = PixelImage(px)
    if ctx is not None:
        ctx.preview(out, "image")
    return out
