"""Fonts and text layout shared by title cards, subtitles and overlays.

Latin, Greek and Cyrillic use the `font-roboto` package (Apache-2.0), so a render looks
the same on every machine. Other scripts use Noto fonts (OFL) from Debian's
fonts-noto-core / fonts-noto-cjk (scripts/bootstrap.sh installs them), picked per
script from the text itself. Pillow lays text out with libraqm when it has it
(HarfBuzz shaping for Arabic and Devanagari, FriBiDi for right-to-left order); lines
break at spaces, and between characters for Chinese and Japanese.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

FONT_STYLES = ("bold", "regular", "medium", "light", "black", "italic")


def font_file(style: str = "regular") -> Path:
    import font_roboto

    name = {
        "regular": "Roboto-Regular",
        "bold": "Roboto-Bold",
        "medium": "Roboto-Medium",
        "light": "Roboto-Light",
        "black": "Roboto-Black",
        "italic": "Roboto-Italic",
    }.get(style)
    if name is None:
        raise ValueError(f"unknown font style {style!r}; use one of {FONT_STYLES}")
    return Path(font_roboto.font_directory) / f"{name}.ttf"


NOTO_DIRS = (
    Path("/usr/share/fonts/truetype/noto"),
    Path("/usr/share/fonts/opentype/noto"),
    Path("/usr/local/share/fonts/noto"),
)
# script -> (regular file, bold file, face index in a .ttc); CJK faces: JP 0, KR 1, SC 2.
NOTO_FILES = {
    "arabic": ("NotoSansArabic-Regular.ttf", "NotoSansArabic-Bold.ttf", 0),
    "hebrew": ("NotoSansHebrew-Regular.ttf", "NotoSansHebrew-Bold.ttf", 0),
    "devanagari": ("NotoSansDevanagari-Regular.ttf", "NotoSansDevanagari-Bold.ttf", 0),
    "bengali": ("NotoSansBengali-Regular.ttf", "NotoSansBengali-Bold.ttf", 0),
    "tamil": ("NotoSansTamil-Regular.ttf", "NotoSansTamil-Bold.ttf", 0),
    "thai": ("NotoSansThai-Regular.ttf", "NotoSansThai-Bold.ttf", 0),
    "han": ("NotoSansCJK-Regular.ttc", "NotoSansCJK-Bold.ttc", 2),
    "kana": ("NotoSansCJK-Regular.ttc", "NotoSansCJK-Bold.ttc", 0),
    "hangul": ("NotoSansCJK-Regular.ttc", "NotoSansCJK-Bold.ttc", 1),
    "other": ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf", 0),
}
ROBOTO_SCRIPTS = ("latin", "greek", "cyrillic")


class MissingFont(RuntimeError):
    pass


def script_of(text: str) -> str:
    """The script a text is mostly written in (see script.languages.dominant_script)."""
    from .script.languages import dominant_script

    return dominant_script(text)


def noto_file(script: str, bold: bool) -> tuple[Path, int]:
    regular, heavy, index = NOTO_FILES.get(script, NOTO_FILES["other"])
    name = heavy if bold else regular
    for d in NOTO_DIRS:
        if (d / name).is_file():
            return d / name, index
        if (d / regular).is_file():
            return d / regular, index
    raise MissingFont(
        f"no font for {script} text: install Debian's fonts-noto-core and fonts-noto-cjk "
        f"(apt-get install fonts-noto-core fonts-noto-cjk); looked for {name} in "
        + ", ".join(str(d) for d in NOTO_DIRS)
    )


@functools.lru_cache(maxsize=128)
def _load(path: str, index: int, size: int) -> Any:
    from PIL import ImageFont, features

    layout = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    return ImageFont.truetype(path, max(4, int(size)), index=index, layout_engine=layout)


def font_script(text: str) -> str:
    """The script whose font draws `text`: the one it is mostly written in, except
    that any han, kana or hangul picks the CJK face. That face draws Latin too, so a
    Latin line with a CJK name in it ("Zoë 東京", a batch row) shows every character
    instead of boxes for the CJK ones."""
    script = script_of(text) if text else "latin"
    if script in ("han", "kana", "hangul") or text.isascii():
        return script
    from .script.languages import char_script

    present = {char_script(ch) for ch in text[:4000]}
    for cjk in ("kana", "hangul", "han"):  # kana: Japanese mixes it with han
        if cjk in present:
            return cjk
    return script


def load_font(style: str, size: int, text: str = "") -> Any:
    """A font of `style` at `size` px that covers the script `text` is written in."""
    script = font_script(text)
    if script in ROBOTO_SCRIPTS:
        return _load(str(font_file(style)), 0, size)
    path, index = noto_file(script, style in ("bold", "black", "medium"))
    return _load(str(path), index, size)


def has_raqm() -> bool:
    from PIL import features

    return bool(features.check("raqm"))


def text_width(font: Any, text: str) -> float:
    return float(font.getlength(text))


def break_units(para: str) -> list[tuple[str, str]]:
    """(text, separator before it) units a line may break between: words, and single
    characters of Chinese/Japanese (closing punctuation stays with the one before,
    so a line never starts with 。 or ，)."""
    from .script.languages import is_cjk_char

    units: list[tuple[str, str]] = []
    for k, word in enumerate(para.split()):
        sep = " " if k else ""
        if not any(is_cjk_char(c) for c in word):
            units.append((word, sep))
            continue
        for i, ch in enumerate(word):
            closing = ch in "。，、；：！？」』）)]!?,.;:…"
            latin_run = i and not is_cjk_char(ch) and not is_cjk_char(units[-1][0][-1])
            if units and i and (closing or latin_run):
                units[-1] = (units[-1][0] + ch, units[-1][1])
            else:
                units.append((ch, sep))
                sep = ""
    return units


def wrap_text(text: str, font: Any, max_width: float, max_lines: int = 0) -> list[str]:
    """Greedy wrap by pixel width at spaces (and between CJK characters); explicit
    newlines are kept. With `max_lines`, the last line ends with an ellipsis when text
    is left over."""
    lines: list[str] = []
    for para in text.split("\n"):
        units = break_units(para)
        if not units:
            lines.append("")
            continue
        line = units[0][0]
        for unit, sep in units[1:]:
            trial = f"{line}{sep}{unit}"
            if text_width(font, trial) <= max_width:
                line = trial
            else:
                lines.append(line)
                line = unit
        lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    if max_lines and len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and text_width(font, last + "…") > max_width:
            last = last[:-1].rstrip()
        lines[-1] = last + "…"
    return lines


def fit_font(
    text: str, style: str, size: int, max_width: float, max_lines: int, min_size: int = 10
) -> tuple[Any, list[str]]:
    """The largest font up to `size` whose wrap fits in `max_lines` lines."""
    s = int(size)
    while True:
        font = load_font(style, s, text)
        lines = wrap_text(text, font, max_width)
        if len(lines) <= max_lines or s <= min_size:
            return font, wrap_text(text, font, max_width, max_lines)
        s = max(min_size, int(s * 0.9))


def line_height(font: Any, spacing: float = 1.2) -> int:
    ascent, descent = font.getmetrics()
    return round((ascent + descent) * spacing)


def render_text_rgba(
    lines: list[str],
    font: Any,
    color: tuple[int, int, int],
    *,
    align: str = "center",
    box: tuple[int, int, int, int] | None = None,
    pad: int = 0,
    spacing: float = 1.2,
    shadow: int = 0,
    width: int | None = None,
) -> Any:
    """Text lines on a transparent RGBA numpy image; an optional rounded box behind them
    (box = RGBA colour) and a soft drop shadow."""
    import numpy as np
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFilter

    lh = line_height(font, spacing)
    ascent, descent = font.getmetrics()
    text_w = max((int(np.ceil(text_width(font, ln))) for ln in lines), default=0)
    w = max(width or 0, text_w + 2 * pad)
    h = lh * (len(lines) - 1) + ascent + descent + 2 * pad
    img = PILImage.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    if box is not None:
        bw = text_w + 2 * pad
        x0 = {"left": 0, "right": w - bw}.get(align, (w - bw) // 2)
        draw.rounded_rectangle((x0, 0, x0 + bw - 1, h - 1), radius=max(2, pad // 2), fill=box)
    positions = []
    for i, ln in enumerate(lines):
        lw = text_width(font, ln)
        x = {"left": pad, "right": w - pad - lw}.get(align, (w - lw) / 2)
        positions.append((x, pad + i * lh, ln))
    if shadow:
        layer = PILImage.new("RGBA", (w, h), (0, 0, 0, 0))
        sd = ImageDraw.Draw(layer)
        for x, y, ln in positions:
            sd.text((x + shadow / 2, y + shadow / 2), ln, font=font, fill=(0, 0, 0, 150))
        img = PILImage.alpha_composite(img, layer.filter(ImageFilter.GaussianBlur(shadow)))
        draw = ImageDraw.Draw(img)
    for x, y, ln in positions:
        draw.text((x, y), ln, font=font, fill=(*color, 255))
    return np.asarray(img)


class Stamp:
    """An RGBA image prepared for repeated blending: its colour, and the weights of the
    frame and of the stamp per pixel (float32), for OpenCV's `blendLinear`. That blends
    a 1080p subtitle box in a quarter of the CPU time numpy's float multiply-add took
    (1.2 ms a frame, not 6.4), and gives the same pixels to within one level."""

    def __init__(self, rgba: Any, opacity: float = 1.0):
        import numpy as np

        a = rgba[..., 3].astype(np.float32) * (opacity / 255.0)
        self.rgb = np.ascontiguousarray(rgba[..., :3])
        self.weight = a
        self.keep = 1.0 - a
        self.h, self.w = rgba.shape[:2]


def alpha_blit(frames: Any, rgba: Any, x: int, y: int, opacity: float = 1.0) -> Any:
    """Blend an RGBA numpy image (or a prepared `Stamp`) onto uint8 frames [t,H,W,3]
    (numpy, modified in place) at (x, y); parts outside the frame are clipped."""
    import cv2

    stamp = rgba if isinstance(rgba, Stamp) else Stamp(rgba, opacity)
    H, W = frames.shape[1:3]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(W, x + stamp.w), min(H, y + stamp.h)
    if x0 >= x1 or y0 >= y1:
        return frames
    rows, cols = slice(y0 - y, y1 - y), slice(x0 - x, x1 - x)
    keep, weight, rgb = stamp.keep[rows, cols], stamp.weight[rows, cols], stamp.rgb[rows, cols]
    for k in range(frames.shape[0]):
        region = frames[k, y0:y1, x0:x1]
        # blendLinear divides by the weights' sum (1 here, plus its epsilon): where the
        # stamp is clear, every level comes back as it was
        region[...] = cv2.blendLinear(region, rgb, keep, weight)
    return frames
