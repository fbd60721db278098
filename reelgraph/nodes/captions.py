"""Social captions: the words of the narration on screen as they are spoken.

`captions.FromSpeech` groups the TTS word timings into caption pages (1-3 words at a
time, or full lines with balanced breaks) and gives the same pages as SUBTITLES, so a
soft subtitle track and SRT/VTT files carry exactly the timing that is burned in.
`captions.Burn` draws the pages onto a VIDEO lazily, chunk by chunk, with the word
being spoken highlighted (karaoke style), inside the format's safe area.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections import OrderedDict
from typing import Annotated, Any

from reelgraph import (
    SUBTITLES,
    VIDEO,
    Bool,
    Combo,
    Float,
    Int,
    NodeInputError,
    Video,
    list_of,
    node,
    register_type,
    socket,
)
from reelgraph.media import TIMINGS, Cue, MappedVideo

from .formats import BRAND, SAFE_AREA, default_safe_area, scaled_safe_area

# Pages are plain dicts: {"start", "end", "words": [[text, start, end], ...],
# "lines": [words on line 1, words on line 2, ...]}.
CAPTIONS = register_type("CAPTIONS", "#ff8a65", "Caption pages: timed words grouped into lines")

MODES = ("words", "lines")
POSITIONS = ("bottom", "lower_third", "center", "top")
HIGHLIGHTS = ("color", "box", "none")
SENTENCE_END = (".", "!", "?", "…")
CLAUSE_END = (",", ";", ":", "—")
# Each caption lingers this long after its last word, unless the next one starts first.
HOLD = 0.6


def balanced_lines(words: list[str], max_chars: int, max_lines: int) -> list[int] | None:
    """Word counts per line for the fewest lines of at most `max_chars` characters (at
    most `max_lines`), the break chosen so the longest line is as short as possible
    (balanced, not greedy). None when the words do not fit."""
    n = len(words)
    if n == 0:
        return []
    lengths = [len(w) for w in words]

    def width(a: int, b: int) -> int:
        return sum(lengths[a:b]) + (b - a - 1)

    best: tuple[Any, ...] | None = None
    for k in range(1, min(max_lines, n) + 1):
        # every way to cut n words into k non-empty lines (k <= 3 keeps this tiny)
        for cuts in itertools.combinations(range(1, n), k - 1):
            bounds = [0, *cuts, n]
            widths = [width(bounds[i], bounds[i + 1]) for i in range(k)]
            if max(widths) > max_chars:
                continue
            # longest line first, then the evenness; a wider bottom line breaks ties
            cost = (max(widths), sum((max(widths) - w) ** 2 for w in widths), -widths[-1])
            if best is None or cost < best[0]:
                best = (cost, [bounds[i + 1] - bounds[i] for i in range(k)])
        if best is not None:
            return best[1]
    return None


def _page(words: list[tuple[str, float, float]], max_chars: int, max_lines: int) -> dict:
    lines = balanced_lines([w[0] for w in words], max_chars, max_lines)
    if lines is None:  # one word longer than a line: it gets a line of its own
        lines = [1] * len(words)
    return {"words": [list(w) for w in words], "lines": lines}


def build_pages(
    words: list[tuple[str, float, float]],
    *,
    mode: str = "words",
    words_per_caption: int = 3,
    max_chars: int = 24,
    max_lines: int = 2,
    max_duration: float = 4.0,
    limit: float | None = None,
) -> list[dict]:
    """Caption pages from timed words (text, start, end): `words` mode shows
    `words_per_caption` words at a time, `lines` mode fills up to `max_lines` balanced
    lines. A page never runs past a sentence end; it starts when its first word is
    spoken and lasts until the next page starts (at most HOLD seconds after its last
    word, and never past `limit`). Times are rounded to milliseconds, as SRT keeps them."""
    groups: list[list[tuple[str, float, float]]] = []
    cur: list[tuple[str, float, float]] = []
    capacity = max_chars * max_lines
    for w in words:
        if cur:
            trial = [x[0] for x in (*cur, w)]
            full = (
                len(cur) >= words_per_caption
                if mode == "words"
                else balanced_lines(trial, max_chars, max_lines) is None
            )
            if full or len(" ".join(trial)) > capacity or w[2] - cur[0][1] > max_duration:
                groups.append(cur)
                cur = []
        cur.append(w)
        text = " ".join(x[0] for x in cur)
        if w[0].endswith(SENTENCE_END) or (
            mode == "lines" and w[0].endswith(CLAUSE_END) and len(text) > capacity * 0.6
        ):
            groups.append(cur)
            cur = []
    if cur:
        groups.append(cur)
    pages = []
    for i, g in enumerate(groups):
        start = g[0][1]
        end = g[-1][2] + HOLD
        if i + 1 < len(groups):
            end = min(end, groups[i + 1][0][1])
        if limit is not None:
            end = min(end, limit)
        end = max(end, g[-1][2], start + 0.04)
        page = _page(g, max_chars, max_lines)
        page["start"], page["end"] = round(start, 3), round(end, 3)
        pages.append(page)
    return pages


def page_lines(page: dict) -> list[list[str]]:
    """The words of a page, line by line."""
    out, i = [], 0
    for n in page["lines"]:
        out.append([w[0] for w in page["words"][i : i + n]])
        i += n
    return out


def pages_to_cues(pages: list[dict]) -> list[Cue]:
    """The pages as subtitle cues: the same start and end, the same line breaks."""
    return [
        Cue(p["start"], p["end"], "\n".join(" ".join(ln) for ln in page_lines(p))) for p in pages
    ]


@node(
    "captions.FromSpeech",
    category="subtitles/captions",
    outputs={"captions": CAPTIONS, "subtitles": SUBTITLES},
)
def from_speech(
    timings: list_of(socket(TIMINGS)),
    clips: list_of(Video) = None,
    mode: Annotated[str, Combo(MODES)] = "words",
    words_per_caption: Annotated[int, Int(1, 3)] = 3,
    max_chars: Annotated[int, Int(6, 60)] = 24,
    max_lines: Annotated[int, Int(1, 3)] = 2,
    max_duration: Annotated[float, Float(0.5, 10.0, 0.1)] = 4.0,
) -> Any:
    """Caption pages from the word timings of each scene's speech: `words` mode shows 1-3
    words at a time (the short-video style), `lines` mode full lines of at most
    `max_chars` characters, broken where the lines come out most even. Scene k starts
    where clip k starts when `clips` are linked. `subtitles` holds the same pages as
    cues, for a soft subtitle track or an SRT/VTT file with the burned-in timing."""
    if clips is not None and len(clips) != len(timings):
        raise NodeInputError("clips", f"{len(clips)} clips for {len(timings)} timings")
    durations = [c.duration for c in clips] if clips is not None else [t.duration for t in timings]
    pages: list[dict] = []
    offset = 0.0
    for dur, t in zip(durations, timings, strict=True):
        words = [(w.word, w.start + offset, w.end + offset) for w in t.words]
        pages += build_pages(
            words,
            mode=mode,
            words_per_caption=words_per_caption,
            max_chars=max_chars,
            max_lines=max_lines,
            max_duration=max_duration,
            limit=offset + dur,
        )
        offset += dur
    if not pages:
        raise NodeInputError("timings", "no spoken words: nothing to caption")
    return pages, pages_to_cues(pages)


def caption_font(font: str, px: int, where: str = "font", text: str = "") -> Any:
    """A font by Roboto style name (`bold`, `black`...) or by the path of a .ttf/.otf file.
    A style name gives the face for the script of `text` (typography.load_font), so a
    caption or card with a CJK name in it shows the name; a file is the user's choice."""
    from pathlib import Path

    from PIL import ImageFont

    from .typography import FONT_STYLES, load_font

    if font in FONT_STYLES:
        return load_font(font, px, text)
    p = Path(font)
    if not p.is_file():
        raise NodeInputError(
            where, f"no font {font!r}: give a style ({', '.join(FONT_STYLES)}) or a .ttf/.otf file"
        )
    try:
        return ImageFont.truetype(str(p), max(4, int(px)))
    except OSError as exc:
        raise NodeInputError(where, f"{p.name} is not a font file PIL can read: {exc}") from None


def rgb(text: str, where: str) -> tuple[int, int, int]:
    from .image import parse_hex_color

    try:
        return tuple(int(c * 255 + 0.5) for c in parse_hex_color(text))  # type: ignore[return-value]
    except ValueError as exc:
        raise NodeInputError(where, str(exc)) from None


class CaptionStyle:
    """Everything that decides how a page looks, resolved to pixels and RGB."""

    def __init__(
        self,
        *,
        font: str,
        px: int,
        color: tuple[int, int, int],
        highlight_color: tuple[int, int, int],
        highlight: str,
        outline: float,
        shadow: bool,
        box_opacity: float,
        uppercase: bool,
        text: str = "",
    ):
        self.font_name, self.px = font, px
        self.font = caption_font(font, px, text=text)
        self.color, self.highlight_color, self.highlight = color, highlight_color, highlight
        self.stroke = round(px * outline)
        self.shadow = max(1, round(px * 0.07)) if shadow else 0
        self.box_opacity, self.uppercase = box_opacity, uppercase
        self.pad = round(px * 0.3) + self.stroke
        self.space = self.font.getlength(" ")
        ascent, descent = self.font.getmetrics()
        self.line_h = round((ascent + descent) * 1.08)
        self.text_h = ascent + descent

    def word(self, w: str) -> str:
        return w.upper() if self.uppercase else w

    def line_width(self, words: list[str]) -> float:
        return sum(self.font.getlength(self.word(w)) for w in words) + self.space * max(
            0, len(words) - 1
        )

    def block_size(self, page: dict) -> tuple[int, int]:
        lines = page_lines(page)
        w = max(self.line_width(ln) for ln in lines)
        h = self.line_h * (len(lines) - 1) + self.text_h
        return int(w) + 2 * self.pad + 2, h + 2 * self.pad


def fit_size(
    pages: list[dict], style_args: dict[str, Any], px: int, max_width: int
) -> CaptionStyle:
    """The style at the largest size up to `px` at which every page fits `max_width`;
    an error naming the caption when even 55% of `px` does not fit."""
    floor = max(8, round(px * 0.55))
    size = px
    words = " ".join(" ".join(ln) for p in pages for ln in page_lines(p))
    while True:
        style = CaptionStyle(px=size, text=words, **style_args)
        widest = max(pages, key=lambda p: style.block_size(p)[0])
        w = style.block_size(widest)[0]
        if w <= max_width:
            return style
        if size <= floor:
            text = " / ".join(" ".join(ln) for ln in page_lines(widest))
            raise NodeInputError(
                "captions",
                f"the caption {text!r} is {w} px wide at {size} px text but the frame's safe "
                f"area is {max_width} px wide: lower max_chars, words_per_caption or size",
            )
        size = max(floor, int(size * 0.92))


def render_page(style: CaptionStyle, page: dict, active: int) -> Any:
    """A page as an RGBA numpy image, word `active` highlighted (-1: none)."""
    import numpy as np
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFilter

    w, h = style.block_size(page)
    img = PILImage.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    if style.box_opacity > 0:
        draw.rounded_rectangle(
            (0, 0, w - 1, h - 1), radius=style.pad, fill=(0, 0, 0, round(255 * style.box_opacity))
        )
    placed: list[tuple[float, float, str, int]] = []
    k = 0
    for i, ln in enumerate(page_lines(page)):
        x = (w - style.line_width(ln)) / 2
        y = style.pad + i * style.line_h
        for word in ln:
            placed.append((x, y, style.word(word), k))
            x += style.font.getlength(style.word(word)) + style.space
            k += 1
    if style.shadow:
        layer = PILImage.new("RGBA", (w, h), (0, 0, 0, 0))
        sd = ImageDraw.Draw(layer)
        for x, y, word, _ in placed:
            sd.text(
                (x + style.shadow, y + style.shadow),
                word,
                font=style.font,
                fill=(0, 0, 0, 170),
                stroke_width=style.stroke,
                stroke_fill=(0, 0, 0, 170),
            )
        img = PILImage.alpha_composite(img, layer.filter(ImageFilter.GaussianBlur(style.shadow)))
        draw = ImageDraw.Draw(img)
    for x, y, word, idx in placed:
        fill = style.color
        if idx == active and style.highlight == "color":
            fill = style.highlight_color
        if idx == active and style.highlight == "box":
            r = round(style.px * 0.18)
            draw.rounded_rectangle(
                (
                    x - r,
                    y - r * 0.4,
                    x + style.font.getlength(word) + r,
                    y + style.text_h + r * 0.4,
                ),
                radius=r,
                fill=(*style.highlight_color, 255),
            )
        draw.text(
            (x, y),
            word,
            font=style.font,
            fill=(*fill, 255),
            stroke_width=style.stroke,
            stroke_fill=(0, 0, 0, 255),
        )
    return np.asarray(img)


def place_block(area: dict[str, Any], w: int, h: int, position: str) -> tuple[int, int]:
    """Top-left corner of a w x h caption block, centred across the safe area."""
    x0, y0, x1, y1 = area["x0"], area["y0"], area["x1"], area["y1"]
    x = x0 + (x1 - x0 - w) // 2
    if position == "top":
        y = y0
    elif position == "center":
        y = y0 + (y1 - y0 - h) // 2
    elif position == "lower_third":
        y = y0 + round((y1 - y0) * 0.72) - h // 2
    else:
        y = y1 - h
    return x, max(y0, min(y, y1 - h))


def burn_captions(
    video: Any, pages: list[dict], style: CaptionStyle, area: dict[str, Any], position: str
) -> Any:
    """A lazy VIDEO with the pages drawn on the frames they cover (uint8, in place).
    Page images are made on demand and only the last few are kept."""
    import numpy as np

    from .typography import Stamp, alpha_blit

    fps = video.fps
    spans = [(round(p["start"] * fps), round(p["end"] * fps)) for p in pages]
    starts = [a for a, _ in spans]
    word_frames = [[round(w[1] * fps) for w in p["words"]] for p in pages]
    cache: OrderedDict[tuple[int, int], tuple[Any, int, int]] = OrderedDict()
    lock = threading.Lock()

    def stamp(page: int, active: int) -> tuple[Any, int, int]:
        key = (page, active)
        with lock:
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
        rgba = render_page(style, pages[page], active)
        x, y = place_block(area, rgba.shape[1], rgba.shape[0], position)
        item = (Stamp(rgba), x, y)
        with lock:
            cache[key] = item
            while len(cache) > 8:  # a page has a handful of states: keep the current ones
                cache.popitem(last=False)
        return item

    def state(i: int) -> tuple[int, int] | None:
        k = bisect.bisect_right(starts, i) - 1
        if k < 0 or i >= spans[k][1]:
            return None
        active = bisect.bisect_right(word_frames[k], i) - 1
        return k, (active if style.highlight != "none" else -1)

    def fn(chunk: Any, first: int) -> Any:
        t = int(chunk.shape[0])
        states = [state(first + j) for j in range(t)]
        if not any(states):
            return chunk
        frames = np.asarray(chunk)  # a fresh buffer we own: draw in place
        j = 0
        while j < t:
            s = states[j]
            e = j + 1
            while e < t and states[e] == s:
                e += 1
            if s is not None:
                st, x, y = stamp(*s)
                alpha_blit(frames[j:e], st, x, y)
            j = e
        return chunk

    return MappedVideo(video, fn)


@node("captions.Burn", category="subtitles/captions", outputs={"video": VIDEO})
def burn(
    video: Video,
    captions: socket(CAPTIONS),
    safe_area: socket(SAFE_AREA) = None,
    brand: socket(BRAND) = None,
    font: str = "black",
    size: Annotated[float, Float(0.01, 0.2, 0.005)] = 0.06,
    color: str = "#ffffff",
    highlight_color: str = "#ffd400",
    highlight: Annotated[str, Combo(HIGHLIGHTS)] = "color",
    outline: Annotated[float, Float(0.0, 0.3, 0.01)] = 0.08,
    shadow: Annotated[bool, Bool()] = True,
    box_opacity: Annotated[float, Float(0.0, 1.0, 0.05)] = 0.0,
    position: Annotated[str, Combo(POSITIONS)] = "bottom",
    uppercase: Annotated[bool, Bool()] = False,
) -> Any:
    """Burn caption pages into the video with the word being spoken highlighted: in
    `highlight_color` (`color`), on a pill of that colour (`box`), or not at all.
    `font` is a Roboto style (black, bold, medium...) or a .ttf/.otf path; `size` is the
    text height as a fraction of the frame height (shrunk, if needed, until the widest
    caption fits); `outline` the stroke as a fraction of the text size; `box_opacity`
    a dark box behind each caption. Captions stay inside `safe_area` (a format.Preset),
    or the safe area of the video's size: on vertical video, clear of the platform's
    like/comment column and description. A linked `brand` sets the font and colours."""
    if not captions:
        raise NodeInputError("captions", "no caption pages")
    if brand is not None:
        font = brand.get("font_file") or brand.get("caption_font") or font
        color = brand.get("text_color", color)
        highlight_color = brand.get("accent", highlight_color)
    area = (
        scaled_safe_area(safe_area, video.width, video.height)
        if safe_area is not None
        else default_safe_area(video.width, video.height)
    )
    style_args = {
        "font": font,
        "color": rgb(color, "color"),
        "highlight_color": rgb(highlight_color, "highlight_color"),
        "highlight": highlight,
        "outline": outline,
        "shadow": shadow,
        "box_opacity": box_opacity,
        "uppercase": uppercase,
    }
    px = max(8, round(video.height * size))
    style = fit_size(list(captions), style_args, px, area["x1"] - area["x0"])
    tallest = max(style.block_size(p)[1] for p in captions)
    if tallest > area["y1"] - area["y0"]:
        raise NodeInputError(
            "captions",
            f"a caption is {tallest} px tall but the safe area is {area['y1'] - area['y0']} px: "
            "lower max_lines or size",
        )
    return burn_captions(video, list(captions), style, area, position)
