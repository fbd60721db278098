"""Subtitles: cues from TTS word timings (or scene text), SRT / WebVTT export, and
burn-in drawn on each frame by us (PyAV has no libass)."""

from __future__ import annotations

from typing import Annotated, Any

from reelgraph import (
    SUBTITLES,
    VIDEO,
    Combo,
    Context,
    FilePath,
    Float,
    Int,
    NodeInputError,
    Subtitles,
    Text,
    Video,
    atomic_write,
    list_of,
    node,
    socket,
)
from reelgraph.media import SCENE, TIMINGS, Cue, SpeechTimings, WordTiming

from .formats import SAFE_AREA

MAX_CHARS = 42
MAX_LINES = 2


def display_len(text: str) -> int:
    """Columns a line takes: wide (CJK) characters count two, as subtitle guides do."""
    import unicodedata

    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def join_words(words: list[str]) -> str:
    """Words back into text: a space between words, none between CJK characters."""
    from .script.languages import is_cjk_char

    out = ""
    for w in words:
        if (out and not (is_cjk_char(out[-1]) or is_cjk_char(w[0]))) or (
            out and out[-1].isascii() and w[0].isascii()
        ):
            out += " "
        out += w
    return out


def wrap_cue(text: str, max_chars: int = MAX_CHARS) -> str:
    """One line if it fits, else two lines split at the most balanced break: a space,
    or between CJK characters (never before closing punctuation)."""
    from .typography import break_units

    if display_len(text) <= max_chars:
        return text
    units = break_units(text)
    best, best_cost = None, None
    for i in range(1, len(units)):
        a = "".join(sep + u for u, sep in units[:i]).strip()
        b = "".join(sep + u for u, sep in units[i:]).strip()
        la, lb = display_len(a), display_len(b)
        cost = max(la, lb) + (0 if la <= max_chars and lb <= max_chars else 1000)
        if best_cost is None or cost < best_cost:
            best, best_cost = f"{a}\n{b}", cost
    return best or text


def build_cues(
    words: list[WordTiming],
    *,
    max_chars: int = MAX_CHARS,
    max_lines: int = MAX_LINES,
    max_duration: float = 6.0,
    min_duration: float = 1.0,
    limit: float | None = None,
) -> list[Cue]:
    """Group timed words into readable cues: at most `max_lines` lines of `max_chars`,
    breaking at sentence ends and, when a cue is well filled, after commas. A cue starts
    when its first word is spoken and lasts at least `min_duration` where the next cue
    (or `limit`) leaves room."""
    capacity = max_chars * max_lines
    groups: list[list[WordTiming]] = []
    cur: list[WordTiming] = []

    def fits(ws: list[WordTiming]) -> bool:
        lines = wrap_cue(join_words([w.word for w in ws]), max_chars).split("\n")
        return len(lines) <= max_lines and all(display_len(ln) <= max_chars for ln in lines)

    for w in words:
        if cur and (not fits([*cur, w]) or w.end - cur[0].start > max_duration):
            groups.append(cur)
            cur = []
        cur.append(w)
        text = join_words([x.word for x in cur])
        if w.word.endswith((".", "!", "?", "…", "。", "！", "？", "।", "؟")) or (
            w.word.endswith((",", ";", ":", "，", "、", "；", "،"))
            and display_len(text) > capacity * 0.6
        ):
            groups.append(cur)
            cur = []
    if cur:
        groups.append(cur)
    cues: list[Cue] = []
    for i, g in enumerate(groups):
        start, end = g[0].start, g[-1].end
        nxt = (
            groups[i + 1][0].start
            if i + 1 < len(groups)
            else (limit if limit is not None else end + min_duration)
        )
        if end - start < min_duration:  # linger, but never into the next cue or past the scene
            end = max(end, min(start + min_duration, nxt - 0.04))
        cues.append(
            Cue(
                round(start, 3), round(end, 3), wrap_cue(join_words([x.word for x in g]), max_chars)
            )
        )
    return cues


def _offsets(durations: list[float]) -> list[float]:
    out, t = [], 0.0
    for d in durations:
        out.append(t)
        t += d
    return out


@node("subtitles.FromSpeech", category="subtitles", outputs={"subtitles": SUBTITLES})
def from_speech(
    timings: list_of(socket(TIMINGS)),
    clips: list_of(Video) = None,
    max_chars: Annotated[int, Int(10, 80)] = MAX_CHARS,
    max_lines: Annotated[int, Int(1, 2)] = MAX_LINES,
    min_duration: Annotated[float, Float(0.3, 5.0, 0.1)] = 1.0,
    max_duration: Annotated[float, Float(1.0, 15.0, 0.5)] = 6.0,
) -> Any:
    """Subtitle cues from the word timings of each scene's speech. Scene k starts where
    clip k starts when `clips` are linked (so cues follow the edit), else where the
    previous speech ended. Cues never cross scenes."""
    if clips is not None and len(clips) != len(timings):
        raise NodeInputError("clips", f"{len(clips)} clips for {len(timings)} timings")
    durations = [c.duration for c in clips] if clips is not None else [t.duration for t in timings]
    cues: list[Cue] = []
    for off, dur, t in zip(_offsets(durations), durations, timings, strict=True):
        shifted = t.shifted(off)
        cues += build_cues(
            list(shifted.words),
            max_chars=max_chars,
            max_lines=max_lines,
            min_duration=min_duration,
            max_duration=max_duration,
            limit=off + dur,
        )
    return cues


@node("subtitles.FromScenes", category="subtitles", outputs={"subtitles": SUBTITLES})
def from_scenes(
    scenes: list_of(socket(SCENE)),
    clips: list_of(Video),
    max_chars: Annotated[int, Int(10, 80)] = MAX_CHARS,
) -> Any:
    """Cues from scene narration without speech timings: each scene's words are spread
    over its clip in proportion to their length."""
    if len(scenes) != len(clips):
        raise NodeInputError("clips", f"{len(clips)} clips for {len(scenes)} scenes")
    cues: list[Cue] = []
    from .script.sentences import spoken_words

    for off, clip, sc in zip(_offsets([c.duration for c in clips]), clips, scenes, strict=True):
        words = spoken_words(sc.narration, sc.language or "en")
        if not words:
            continue
        total = sum(len(w) + 1 for w in words)
        span = clip.duration * 0.95
        acc, timed = 0, []
        for w in words:
            a = off + span * acc / total
            acc += len(w) + 1
            timed.append(WordTiming(w, a, off + span * acc / total))
        cues += build_cues(timed, max_chars=max_chars, limit=off + clip.duration)
    return cues


def _ts(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(cues: list[Cue]) -> str:
    return "".join(
        f"{i}\n{_ts(c.start, ',')} --> {_ts(c.end, ',')}\n{c.text}\n\n"
        for i, c in enumerate(cues, 1)
    )


def to_vtt(cues: list[Cue]) -> str:
    return "WEBVTT\n\n" + "".join(
        f"{_ts(c.start, '.')} --> {_ts(c.end, '.')}\n{c.text}\n\n" for c in cues
    )


def parse_srt(text: str) -> list[Cue]:
    """SRT or WebVTT text back to cues."""
    import re

    cues = []
    pat = re.compile(r"(\d+):(\d\d):(\d\d)[,.](\d{3})\s*-->\s*(\d+):(\d\d):(\d\d)[,.](\d{3})")
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = block.strip().split("\n")
        for k, ln in enumerate(lines):
            m = pat.search(ln)
            if m:
                g = [int(x) for x in m.groups()]
                a = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
                b = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
                cues.append(Cue(a, b, "\n".join(lines[k + 1 :])))
                break
    return cues


@node(
    "subtitles.Save",
    category="subtitles",
    outputs={"path": FilePath},
    side_effects=True,
    resource="io",
)
def save(
    subtitles: Subtitles,
    ctx: Context,
    format: Annotated[str, Combo(("srt", "vtt"))] = "srt",
    filename: Annotated[str, Text(placeholder="subtitles")] = "subtitles",
) -> Any:
    """Write the cues as SubRip (.srt) or WebVTT (.vtt) in the output folder."""
    if not filename or any(ch in filename for ch in "/\\\0") or filename.startswith("."):
        raise NodeInputError("filename", f"{filename!r} is not a plain file name")
    path = ctx.output_path(f"{filename}.{format}")
    atomic_write(path, (to_srt if format == "srt" else to_vtt)(subtitles).encode())
    return str(path)


def burn_in(
    video: Any,
    cues: list[Cue],
    *,
    size: float = 0.05,
    color: tuple[int, int, int] = (255, 255, 255),
    box_opacity: float = 0.55,
    margin: float = 0.06,
    area: dict[str, Any] | None = None,
) -> Any:
    """A lazy VIDEO with the cues drawn on the frames they cover: centred near the
    bottom, inside `area` (a safe area in pixels) when given."""
    import numpy as np

    from reelgraph.media import MappedVideo

    from .typography import Stamp, alpha_blit, load_font, render_text_rgba
    from .video import spans_key

    px = max(10, round(video.height * size))
    # Stamps of the cues shown lately, not of every cue: a prepared stamp is float32
    # (16 bytes a pixel), and a ten-minute video has hundreds of cues. Frames are read
    # in order, so the newest few suffice. No lock (the stream is pickled for segment
    # workers): two threads may at worst prepare the same stamp twice.
    rendered: dict[int, Any] = {}
    fps = video.fps
    spans = [(round(c.start * fps), round(c.end * fps)) for c in cues]
    bottom = video.height - round(video.height * margin)
    if area is not None:
        bottom = min(bottom, area["y1"])

    def image_for(k: int) -> Any:
        stamp = rendered.get(k)
        if stamp is not None:
            return stamp

        def draw(size: int) -> Any:
            return render_text_rgba(
                cues[k].text.split("\n"),
                load_font("medium", size, cues[k].text),  # a font for the cue's script
                color,
                box=(10, 12, 20, round(255 * box_opacity)),
                pad=round(size * 0.4),
                spacing=1.18,
                shadow=max(1, size // 14),
            )

        rgba = draw(px)
        room = (area["x1"] - area["x0"]) if area is not None else video.width
        if rgba.shape[1] > room:  # wider than the safe area: a smaller size that fits
            rgba = draw(max(8, int(px * room / rgba.shape[1])))
        stamp = Stamp(rgba)
        rendered[k] = stamp
        for old in [j for j in list(rendered) if abs(j - k) > 3]:
            rendered.pop(old, None)
        return stamp

    def fn(chunk: Any, first: int) -> Any:
        t = int(chunk.shape[0])
        active = [k for k, (a, b) in enumerate(spans) if a < first + t and b > first]
        if not active:
            return chunk
        frames = np.asarray(chunk)  # a fresh buffer we own: draw in place
        for k in active:
            a, b = spans[k]
            lo, hi = max(a, first) - first, min(b, first + t) - first
            img = image_for(k)
            x, y = (video.width - img.w) // 2, bottom - img.h
            if area is not None:
                x = max(0, min((area["x0"] + area["x1"] - img.w) // 2, video.width - img.w))
            alpha_blit(frames[lo:hi], img, x, y)
        return chunk

    # What a frame range shows (for the encoder's segment keys): its cues and the style.
    where = (area["x0"], area["x1"], area["y1"]) if area is not None else None
    style = repr((px, color, box_opacity, margin, where)).encode()
    return MappedVideo(video, fn, key=spans_key(spans, [c.text for c in cues], style))


@node("subtitles.Burn", category="subtitles", outputs={"video": VIDEO})
def burn(
    video: Video,
    subtitles: Subtitles,
    size: Annotated[float, Float(0.02, 0.15, 0.005)] = 0.05,
    color: str = "#ffffff",
    box_opacity: Annotated[float, Float(0.0, 1.0, 0.05)] = 0.55,
    margin: Annotated[float, Float(0.0, 0.4, 0.01)] = 0.06,
    safe_area: socket(SAFE_AREA) = None,
) -> Any:
    """Draw the cues onto the frames (centred near the bottom, on a translucent box).
    `size` is the text height as a fraction of the frame height. The text keeps inside
    the safe area (linked, or on vertical video the default one), clear of the
    platform's description and like/comment column."""
    from .formats import text_area
    from .image import parse_hex_color

    try:
        rgb = tuple(int(c * 255 + 0.5) for c in parse_hex_color(color))
    except ValueError as exc:
        raise NodeInputError("color", str(exc)) from None
    return burn_in(
        video,
        list(subtitles),
        size=size,
        color=rgb,
        box_opacity=box_opacity,  # type: ignore[arg-type]
        margin=margin,
        area=text_area(safe_area, video.width, video.height),
    )


__all__ = ["SpeechTimings", "build_cues", "parse_srt", "to_srt", "to_vtt"]
