"""Brand kits: one node holds a logo, colours, fonts and the intro/outro card texts,
and feeds title cards (its colour and font outputs link into slides.TitleCard),
captions (captions.Burn's `brand` input), a logo watermark and branded cards (an
intro card, an end card with a call to action and a URL) laid out for the aspect.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

from reelgraph import (
    IMAGE,
    TEXT,
    VIDEO,
    Combo,
    Float,
    Int,
    NodeInputError,
    Text,
    Video,
    list_of,
    node,
    socket,
)
from reelgraph.media import SCENE, PixelImage

from .captions import caption_font as load_font_any
from .captions import rgb
from .formats import BRAND, SAFE_AREA, default_safe_area, scaled_safe_area
from .typography import FONT_STYLES

CARD_KINDS = ("intro", "outro")


def _hash_file(path: str) -> str:
    p = Path(path)
    try:
        return hashlib.blake2b(p.read_bytes(), digest_size=16).hexdigest()
    except OSError:
        return "missing"


def _fingerprint(values: dict[str, Any]) -> str:
    """The bytes of the logo and the font file, so replacing either re-renders."""
    return ":".join(_hash_file(str(values.get(k) or "")) for k in ("logo", "font_file"))


def load_logo(path: str, where: str = "logo") -> Any:
    """The logo as RGBA uint8 numpy (transparency kept); a clear error when the file is
    missing or is not an image."""
    import numpy as np
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    p = Path(path)
    if not p.is_file():
        raise NodeInputError(where, f"no logo file {path!r}")
    try:
        with PILImage.open(p) as im:
            im.load()
            rgba = im.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise NodeInputError(
            where, f"{p.name} is not an image (PNG, JPEG, WebP...): {type(exc).__name__}"
        ) from None
    if min(rgba.size) < 8:
        raise NodeInputError(where, f"{p.name} is {rgba.size[0]}x{rgba.size[1]}: too small")
    return np.asarray(rgba)


def _check_kit(values: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    logo = str(values.get("logo") or "")
    if logo and not Path(logo).is_file():
        problems.append(("logo", f"no logo file {logo!r}"))
    font_file = str(values.get("font_file") or "")
    if font_file and not Path(font_file).is_file():
        problems.append(("font_file", f"no font file {font_file!r}"))
    for k in ("primary", "secondary", "accent", "text_color"):
        try:
            rgb(str(values.get(k, "#000000")), k)
        except NodeInputError as exc:
            problems.append((k, str(exc)))
    return problems


@node(
    "brand.Kit",
    category="brand",
    outputs={
        "brand": BRAND,
        "color1": TEXT,
        "color2": TEXT,
        "accent": TEXT,
        "text_color": TEXT,
        "title_font": TEXT,
    },
    fingerprint=_fingerprint,
    validate=_check_kit,
)
def kit(
    name: Annotated[str, Text(placeholder="Brand name")] = "",
    logo: Annotated[str, Text(upload="image")] = "",
    primary: str = "#14213d",
    secondary: str = "#2d4f8b",
    accent: str = "#fca311",
    text_color: str = "#ffffff",
    title_font: Annotated[str, Combo(FONT_STYLES)] = "black",
    body_font: Annotated[str, Combo(FONT_STYLES)] = "regular",
    caption_font: Annotated[str, Combo(FONT_STYLES)] = "black",
    font_file: Annotated[str, Text(placeholder="optional .ttf/.otf")] = "",
    intro_title: Annotated[str, Text(multiline=True)] = "",
    intro_body: Annotated[str, Text(multiline=True)] = "",
    outro_title: Annotated[str, Text(multiline=True)] = "",
    cta: Annotated[str, Text(placeholder="Shop now")] = "",
    url: Annotated[str, Text(placeholder="example.com")] = "",
) -> Any:
    """A brand kit: the logo (a PNG with transparency works best), colours (primary and
    secondary for backgrounds, accent for highlights and buttons, text colour), fonts
    (Roboto styles, or a .ttf/.otf `font_file` used by captions and brand cards), and
    the texts of the intro card and the outro card (call to action and URL). Link
    `brand` into captions.Burn, brand.Watermark and brand.Card, and the colour and font
    outputs into a slides.TitleCard (palette custom) so every card wears the brand."""
    for k, v in (("primary", primary), ("secondary", secondary), ("accent", accent)):
        rgb(v, k)
    rgb(text_color, "text_color")
    if logo:
        load_logo(logo)  # fails here, on the kit, when the file is not an image
    if font_file:
        load_font_any(font_file, 24, "font_file")
    record = {
        "name": name,
        "logo": logo,
        "logo_hash": _hash_file(logo) if logo else "",
        "primary": primary,
        "secondary": secondary,
        "accent": accent,
        "text_color": text_color,
        "title_font": title_font,
        "body_font": body_font,
        "caption_font": caption_font,
        "font_file": font_file,
        "intro_title": intro_title,
        "intro_body": intro_body,
        "outro_title": outro_title,
        "cta": cta,
        "url": url,
    }
    return record, primary, secondary, accent, text_color, title_font


def _area(safe_area: Any, width: int, height: int) -> dict[str, Any]:
    if safe_area is not None:
        return scaled_safe_area(safe_area, width, height)
    return default_safe_area(width, height)


def scaled_logo(brand: dict[str, Any], max_w: int, max_h: int) -> Any:
    """The brand's logo, RGBA, scaled to fit max_w x max_h."""
    import cv2

    if not brand.get("logo"):
        raise NodeInputError("brand", "the brand kit has no logo: give brand.Kit a logo file")
    src = load_logo(brand["logo"], "brand")
    h, w = src.shape[:2]
    s = min(max_w / w, max_h / h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    # Premultiply before resizing so transparent pixels do not bleed their colour in.
    import numpy as np

    a = src[..., 3:4].astype(np.float32) / 255
    pre = cv2.resize(src[..., :3].astype(np.float32) * a, (nw, nh), interpolation=interp)
    alpha = cv2.resize(a[..., 0], (nw, nh), interpolation=interp)[..., None]
    color = np.where(alpha > 1e-4, pre / np.maximum(alpha, 1e-4), 0)
    return np.concatenate(
        [np.clip(color + 0.5, 0, 255), np.clip(alpha * 255 + 0.5, 0, 255)], axis=2
    ).astype(np.uint8)


WATERMARK_POSITIONS = ("top_left", "top_right", "bottom_left", "bottom_right", "top_center")


@node("brand.Watermark", category="brand", outputs={"video": VIDEO})
def watermark(
    video: Video,
    brand: socket(BRAND),
    safe_area: socket(SAFE_AREA) = None,
    position: Annotated[str, Combo(WATERMARK_POSITIONS)] = "top_left",
    scale: Annotated[float, Float(0.02, 0.6, 0.01)] = 0.14,
    opacity: Annotated[float, Float(0.0, 1.0, 0.05)] = 0.8,
    start: Annotated[float, Float(0.0, 86400.0, 0.1)] = 0.0,
    end: Annotated[float, Float(0.0, 86400.0, 0.1)] = 0.0,
    clips: list_of(Video) = None,
) -> Any:
    """The brand's logo over the video at `position` inside the safe area (on vertical
    video: below the top bar, clear of the like/comment column), `scale` of the frame's
    width, at `opacity`, from `start` to `end` seconds (end 0: to the end). With the
    edit's `clips` linked it shows only between the first and the last clip, so it does
    not repeat the logo of an intro card and an end card."""
    from .video import overlay_rgba, place

    if clips is not None and len(clips) >= 3:
        start = max(start, clips[0].duration)
        last = sum(c.duration for c in clips) - clips[-1].duration
        end = min(end, last) if end > 0 else last
    area = _area(safe_area, video.width, video.height)
    max_w = max(8, round(video.width * scale))
    logo = scaled_logo(brand, max_w, max(8, round(video.height * 0.2)))
    h, w = logo.shape[:2]
    x, y = place(position, area["x1"] - area["x0"], area["y1"] - area["y0"], w, h, 0)
    return overlay_rgba(video, logo, area["x0"] + x, area["y0"] + y, opacity, start, end)


def render_brand_card(
    brand: dict[str, Any],
    *,
    title: str,
    body: str,
    cta: str,
    url: str,
    width: int,
    height: int,
    area: dict[str, Any],
) -> Any:
    """A branded card, uint8 [H,W,3]: the brand gradient, the logo, a title, body text,
    a call-to-action button in the accent colour and the URL, stacked and centred in
    the safe area and sized by the frame's shorter side, so a 9:16 card and a 16:9
    card both read at a glance."""
    import numpy as np
    from PIL import Image as PILImage
    from PIL import ImageDraw

    from .slides import gradient_background
    from .typography import line_height, text_width, wrap_text

    c1, c2 = rgb(brand["primary"], "brand"), rgb(brand["secondary"], "brand")
    acc, fg = rgb(brand["accent"], "brand"), rgb(brand["text_color"], "brand")
    canvas = PILImage.fromarray(gradient_background(width, height, c1, c2)).convert("RGBA")
    draw = ImageDraw.Draw(canvas)
    x0, y0, x1, y1 = area["x0"], area["y0"], area["x1"], area["y1"]
    inner_w, inner_h = x1 - x0, y1 - y0
    unit = min(width, height)
    custom = brand.get("font_file") or ""

    def font(style_key: str, px: float, text: str = "") -> Any:
        face = custom or brand.get(style_key, "bold")
        return load_font_any(face, max(8, round(px)), "brand", text)

    def fitted(text: str, style_key: str, px: float, lines: int) -> tuple[Any, list[str]]:
        size = px
        while True:
            f = font(style_key, size, text)
            wrapped = wrap_text(text, f, inner_w)
            if len(wrapped) <= lines or size <= 10:
                return f, wrap_text(text, f, inner_w, lines)
            size *= 0.9

    blocks: list[tuple[str, Any, Any]] = []  # (kind, payload, font)
    if brand.get("logo"):
        logo = scaled_logo(brand, round(inner_w * 0.5), round(unit * 0.2))
        blocks.append(("logo", logo, None))
    if title.strip():
        f, ls = fitted(title.strip(), "title_font", unit * 0.095, 3)
        blocks.append(("title", ls, f))
    if body.strip():
        f, ls = fitted(body.strip(), "body_font", unit * 0.045, 4)
        blocks.append(("body", ls, f))
    if cta.strip():
        f = font("title_font", unit * 0.05, cta)
        while text_width(f, cta) + unit * 0.12 > inner_w and f.size > 10:
            f = font("title_font", f.size * 0.9, cta)
        blocks.append(("cta", cta.strip(), f))
    if url.strip():
        f = font("body_font", unit * 0.038, url)
        while text_width(f, url) > inner_w and f.size > 10:
            f = font("body_font", f.size * 0.9, url)
        blocks.append(("url", url.strip(), f))
    if not blocks:
        raise NodeInputError(
            "title", "a brand card needs a logo, a title, a call to action or a URL"
        )
    gap = round(unit * 0.045)

    def block_h(kind: str, payload: Any, f: Any) -> int:
        if kind == "logo":
            return payload.shape[0]
        if kind in ("title", "body"):
            return line_height(f, 1.12) * len(payload)
        if kind == "cta":
            return round(line_height(f, 1.0) * 1.8)
        return line_height(f, 1.0)

    heights = [block_h(*b) for b in blocks]
    total = sum(heights) + gap * (len(blocks) - 1)
    if total > inner_h:
        raise NodeInputError(
            "title", f"the card's text needs {total} px but the safe area is {inner_h} px tall"
        )
    y = y0 + (inner_h - total) // 2
    cx = (x0 + x1) / 2
    shadow = max(1, round(unit * 0.004))
    for (kind, payload, f), h in zip(blocks, heights, strict=True):
        if kind == "logo":
            lg = PILImage.fromarray(payload, "RGBA")
            canvas.alpha_composite(lg, (round(cx - lg.width / 2), y))
            draw = ImageDraw.Draw(canvas)
        elif kind in ("title", "body"):
            lh = line_height(f, 1.12)
            color = fg if kind == "title" else tuple(int(c * 0.88 + 30 * (c < 128)) for c in fg)
            for i, ln in enumerate(payload):
                x = cx - text_width(f, ln) / 2
                draw.text((x + shadow, y + i * lh + shadow), ln, font=f, fill=(0, 0, 0, 140))
                draw.text((x, y + i * lh), ln, font=f, fill=(*color, 255))
        elif kind == "cta":
            tw = text_width(f, payload)
            bw, pad_x = tw + unit * 0.12, unit * 0.06
            draw.rounded_rectangle(
                (cx - bw / 2, y, cx + bw / 2, y + h), radius=h // 2, fill=(*acc, 255)
            )
            # dark text on a light accent, light text on a dark one
            dark = sum(acc) / 3 > 140
            tc = (20, 20, 28) if dark else (255, 255, 255)
            ty = y + (h - line_height(f, 1.0)) / 2
            draw.text((cx - bw / 2 + pad_x, ty), payload, font=f, fill=(*tc, 255))
        else:
            draw.text((cx - text_width(f, payload) / 2, y), payload, font=f, fill=(*fg, 235))
        y += h + gap
    return np.asarray(canvas.convert("RGB"))


@node("brand.Card", category="brand", outputs={"image": IMAGE})
def card(
    brand: socket(BRAND),
    kind: Annotated[str, Combo(CARD_KINDS)] = "outro",
    title: Annotated[str, Text(multiline=True)] = "",
    body: Annotated[str, Text(multiline=True)] = "",
    cta: str = "",
    url: str = "",
    safe_area: socket(SAFE_AREA) = None,
    width: Annotated[int, Int(64, 7680, 2)] = 1280,
    height: Annotated[int, Int(64, 4320, 2)] = 720,
) -> Any:
    """A branded card: `intro` (logo, the kit's intro title and body) or `outro`, the end
    card (logo, the kit's outro title, a call-to-action button and the URL). Texts
    given here (or linked, e.g. from a text.Template for a personalised offer) replace
    the kit's. Laid out for the aspect, inside the safe area."""
    if kind == "intro":
        title, body = title or brand.get("intro_title", ""), body or brand.get("intro_body", "")
    else:
        title = title or brand.get("outro_title", "")
        cta, url = cta or brand.get("cta", ""), url or brand.get("url", "")
    px = render_brand_card(
        brand,
        title=title,
        body=body,
        cta=cta,
        url=url,
        width=width,
        height=height,
        area=_area(safe_area, width, height),
    )
    return PixelImage(px)


@node("brand.SceneCard", category="brand", outputs={"image": IMAGE})
def scene_card(
    scene: socket(SCENE),
    brand: socket(BRAND),
    count: Annotated[int, Int(1, 100000)] = 1,
    safe_area: socket(SAFE_AREA) = None,
    width: Annotated[int, Int(64, 7680, 2)] = 1280,
    height: Annotated[int, Int(64, 4320, 2)] = 720,
) -> Any:
    """The card of each scene of a branded video (link text.SplitScenes' `scenes` and
    `count`): the first scene gets the intro card (logo, the scene's title and visual
    line), the last one the end card (logo, the scene's title, the kit's call to action
    and URL), and the scenes between a brand-coloured title card in the brand's fonts."""
    from .slides import render_card

    area = _area(safe_area, width, height)
    body = scene.visual if scene.visual != scene.narration else ""
    if scene.index == 0 or scene.index >= count - 1:
        last = scene.index >= count - 1 and count > 1
        px = render_brand_card(
            brand,
            title=scene.title,
            body="" if last else body,
            cta=brand.get("cta", "") if last else "",
            url=brand.get("url", "") if last else "",
            width=width,
            height=height,
            area=area,
        )
    else:
        margin = max(area["x0"] / width, area["y0"] / height, 1 - area["x1"] / width)
        px = render_card(
            scene.title,
            body,
            width=width,
            height=height,
            background="gradient",
            color1=brand["primary"],
            color2=brand["secondary"],
            accent=brand["accent"],
            text_color=brand["text_color"],
            margin=round(min(0.4, margin), 3),
            reserve_bottom=1 - area["y1"] / height + 0.12,
            align="center",
            font=brand.get("title_font", "bold"),
            title_size=0.085 * min(1.0, width / height),
            body_size=0.042 * min(1.0, width / height) ** 0.5,
            seed=scene.index,
        )
    return PixelImage(px)
