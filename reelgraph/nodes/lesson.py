"""Lessons: slides whose bullet points appear as the narrator reaches them.

`lesson.Script` reads a lesson outline (a heading per slide, `- ` bullets, narration
paragraphs) into scenes; `lesson.Slide` renders one slide as a clip with its
narration, each bullet fading in when its words are first spoken (from the TTS word
timings), laid out inside the safe area and clear of a presenter in the corner.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from reelgraph import (
    INT,
    VIDEO,
    Audio,
    Float,
    Int,
    NodeInputError,
    Text,
    list_of,
    node,
    socket,
)
from reelgraph.media import SCENE, TIMINGS, ProceduralVideo, Scene, digest

from .formats import BRAND, SAFE_AREA, default_safe_area, scaled_safe_area

_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.*\S)\s*$")
# Words too common to say which bullet the narrator is on.
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "is",
        "are",
        "be",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "as",
        "at",
        "by",
        "from",
        "you",
        "your",
        "we",
        "our",
        "can",
        "will",
        "not",
        "but",
        "so",
        "if",
        "then",
        "than",
        "into",
        "about",
        "more",
        "most",
    ]
)


def parse_lesson(text: str) -> list[Scene]:
    """Slides from an outline: `# Title` starts a slide, `- ` (or `* `, `1.`) lines are its
    bullets, other lines its narration. A slide without narration has its bullets read."""
    slides: list[dict[str, Any]] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if line.startswith("#"):
            slides.append({"title": line.lstrip("#").strip(), "bullets": [], "say": []})
            continue
        if not line:
            continue
        if not slides:
            slides.append({"title": "", "bullets": [], "say": []})
        m = _BULLET.match(line)
        if m:
            slides[-1]["bullets"].append(m.group(1))
        else:
            slides[-1]["say"].append(line)
    scenes = []
    for i, s in enumerate(slides):
        narration = " ".join(s["say"]) or " ".join(
            b if b.endswith((".", "!", "?")) else b + "." for b in s["bullets"]
        )
        if not narration.strip():
            continue
        scenes.append(
            Scene(len(scenes), s["title"] or f"Part {i + 1}", narration, "\n".join(s["bullets"]))
        )
    return scenes


@node(
    "lesson.Script",
    category="text/lesson",
    outputs={"scenes": list_of(socket(SCENE)), "count": INT},
)
def script(
    text: Annotated[
        str,
        Text(
            multiline=True,
            placeholder="# Slide title\n- a bullet\n- another\nWhat the narrator says…",
        ),
    ],
) -> Any:
    """A lesson outline as scenes: each `# heading` is a slide, its `- ` lines the bullets
    (kept in the scene's visual field, one per line), the other lines the narration."""
    scenes = parse_lesson(text)
    if not scenes:
        raise NodeInputError("text", "no slides: start each slide with a '# Title' line")
    return scenes, len(scenes)


def _norm(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


def bullet_times(bullets: list[str], words: list[Any], duration: float) -> list[float]:
    """When each bullet should appear: where the narration says most of its content words
    (the earliest such place after the previous bullet's); a bullet the narration never
    mentions is spaced evenly between its neighbours."""
    toks = [_norm(w.word) for w in words]
    found: list[float | None] = []
    pos = 0
    for b in bullets:
        bw = [_norm(x) for x in b.split()]
        content = [t for t in bw if len(t) > 2 and t not in _STOP] or [t for t in bw if t]
        want = set(content)
        span = len(bw) + 2
        # the window that says the most of the bullet's words; the earliest of those
        hit, best = None, 0
        for p in range(pos, len(toks)):
            if toks[p] in want:
                score = len(want & set(toks[p : p + span]))
                if score > best:
                    hit, best = p, score
        if hit is None:
            found.append(None)
        else:
            found.append(words[hit].start)
            pos = hit + 1
    # fill the gaps: evenly between the known neighbours (the slide's start and end)
    out: list[float] = []
    for i, t in enumerate(found):
        if t is not None:
            out.append(max(t, out[-1] if out else 0.0))
            continue
        prev = out[-1] if out else 0.0
        j = next((k for k in range(i + 1, len(found)) if found[k] is not None), None)
        nxt = found[j] if j is not None else duration
        steps = (j if j is not None else len(found)) - i + 1
        out.append(prev + (max(prev, nxt) - prev) / steps)
    return out


def _colors(scene: Scene, brand: dict[str, Any] | None) -> tuple[Any, ...]:
    from .captions import rgb
    from .slides import PALETTES

    if brand is not None:
        return tuple(
            rgb(brand[k], "brand") for k in ("primary", "secondary", "accent", "text_color")
        )
    c1, c2, acc = PALETTES[scene.index % len(PALETTES)]
    return rgb(c1, "scene"), rgb(c2, "scene"), rgb(acc, "scene"), (255, 255, 255)


def render_states(
    title: str,
    bullets: list[str],
    *,
    width: int,
    height: int,
    area: dict[str, Any],
    reserve_right: float,
    colors: tuple[Any, ...],
    title_font: str = "bold",
    body_font: str = "regular",
) -> tuple[list[Any], list[tuple[int, int]]]:
    """The slide with 0, 1, ... n bullets shown (uint8 [H,W,3] each), and the rows each
    bullet occupies (for the reveal)."""
    import numpy as np
    from PIL import Image as PILImage
    from PIL import ImageDraw

    from .captions import caption_font
    from .slides import gradient_background
    from .typography import line_height, wrap_text

    c1, c2, acc, fg = colors
    x0, y0, x1, y1 = area["x0"], area["y0"], area["x1"], area["y1"]
    x1 = min(x1, round(width * (1 - reserve_right)))
    inner_w, inner_h = x1 - x0, y1 - y0
    unit = min(width, height) if width < height else height
    if inner_w < unit * 0.3:
        raise NodeInputError("reserve_right", "no room left for the bullets: lower reserve_right")
    scale = 1.0
    while True:
        tf = caption_font(title_font, max(10, round(unit * 0.09 * scale)), "title_font", title)
        bf = caption_font(
            body_font, max(8, round(unit * 0.062 * scale)), "body_font", " ".join(bullets)
        )
        tlines = wrap_text(title, tf, inner_w, 2) if title else []
        dot = round(bf.size * 0.5)
        indent = round(bf.size * 1.1)
        blines = [wrap_text(b, bf, inner_w - indent) for b in bullets]
        tl_h, bl_h = line_height(tf, 1.1), line_height(bf, 1.25)
        gap = round(bf.size * 0.7)
        total = tl_h * len(tlines) + round(unit * 0.06) + sum(bl_h * len(ls) + gap for ls in blines)
        if total <= inner_h or scale < 0.45:
            break
        scale *= 0.9
    if total > inner_h:
        raise NodeInputError(
            "scene", f"slide {title!r} has more bullet text than fits on the slide"
        )
    base = PILImage.fromarray(gradient_background(width, height, c1, c2))
    draw = ImageDraw.Draw(base)
    y = y0
    sh = max(1, round(unit * 0.003))
    for ln in tlines:
        draw.text((x0 + sh, y + sh), ln, font=tf, fill=(0, 0, 0))
        draw.text((x0, y), ln, font=tf, fill=fg)
        y += tl_h
    bar_h = max(2, round(unit * 0.008))
    draw.rounded_rectangle(
        (x0, y + bar_h, x0 + round(unit * 0.12), y + 2 * bar_h), radius=bar_h, fill=acc
    )
    y += round(unit * 0.06)
    states = [np.asarray(base).copy()]
    rows = []
    for ls in blines:
        draw = ImageDraw.Draw(base)
        top = y
        cy = y + bl_h / 2
        draw.ellipse((x0, cy - dot / 2, x0 + dot, cy + dot / 2), fill=acc)
        for ln in ls:
            draw.text((x0 + indent + sh, y + sh), ln, font=bf, fill=(0, 0, 0))
            draw.text((x0 + indent, y), ln, font=bf, fill=fg)
            y += bl_h
        rows.append((top, min(height, y + gap // 2)))
        y += gap
        states.append(np.asarray(base).copy())
    return states, rows


@node("lesson.Slide", category="video/lesson", outputs={"video": VIDEO})
def slide(
    scene: socket(SCENE),
    audio: Audio,
    timings: socket(TIMINGS),
    brand: socket(BRAND) = None,
    safe_area: socket(SAFE_AREA) = None,
    width: Annotated[int, Int(64, 7680, 2)] = 1280,
    height: Annotated[int, Int(64, 4320, 2)] = 720,
    fps: Annotated[float, Float(1.0, 120.0, 1.0)] = 24.0,
    tail: Annotated[float, Float(0.0, 10.0, 0.05)] = 0.5,
    reveal: Annotated[float, Float(0.0, 3.0, 0.05)] = 0.35,
    reserve_right: Annotated[float, Float(0.0, 0.6, 0.01)] = 0.0,
) -> Any:
    """One lesson slide as a clip carrying its narration: the title, then each bullet
    (the scene's visual lines, from lesson.Script) fading in over `reveal` seconds when
    the narrator first says its words. The clip lasts the narration plus `tail`.
    `reserve_right` keeps a fraction of the width free on the right (for a presenter
    in the corner); a linked `brand` gives the colours and fonts."""
    import cv2
    import numpy as np

    from .video import array_key, fit_audio

    bullets = [b for b in scene.visual.split("\n") if b.strip()]
    area = (
        scaled_safe_area(safe_area, width, height)
        if safe_area is not None
        else default_safe_area(width, height)
    )
    fonts = {}
    if brand is not None:
        fonts = {
            "title_font": brand.get("font_file") or brand.get("title_font", "bold"),
            "body_font": brand.get("font_file") or brand.get("body_font", "regular"),
        }
    states, _rows = render_states(
        scene.title,
        bullets,
        width=width,
        height=height,
        area=area,
        reserve_right=reserve_right,
        colors=_colors(scene, brand),
        **fonts,
    )
    count = max(1, math.ceil((audio.duration + tail) * fps - 1e-6))
    starts = [round(t * fps) for t in bullet_times(bullets, list(timings.words), audio.duration)]
    ramp = max(1, round(reveal * fps))

    def frame_into(i: int, out: Any) -> None:
        shown = sum(1 for s in starts if s <= i)
        if shown and i - starts[shown - 1] < ramp:  # the newest bullet is fading in
            a = (i - starts[shown - 1] + 1) / ramp
            cv2.addWeighted(states[shown], a, states[shown - 1], 1 - a, 0, dst=out)
        else:
            out[...] = states[shown]

    def render(start: int, stop: int) -> Any:
        out = np.empty((stop - start, height, width, 3), np.uint8)
        for k, i in enumerate(range(start, stop)):
            frame_into(i, out[k])
        return out

    clip_audio = fit_audio(audio, count / fps)
    # what the frames are made of: the slide's states and when each bullet appears
    key = digest(b"slide", *(array_key(st) for st in states), starts, ramp, count)
    return ProceduralVideo(
        render, fps=fps, width=width, height=height, frame_count=count, audio=clip_audio, key=key
    )
