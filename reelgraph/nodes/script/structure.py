"""Structure first: a text becomes sections (a heading, paragraphs, visual notes).

Understands Markdown headings (`#`, setext underlines), plain-line headings as pasted
from a web article (a short line without end punctuation standing alone before a
paragraph), bullet lists, `Visual:` lines and SRT/WebVTT subtitles. Headings are kept
apart from the narration, so they are never read aloud as run-on text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_VISUAL = re.compile(r"^\s*(?:visual|image|shot)\s*:\s*(.*)$", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•‣◦+]|\d{1,3}[.)])\s+(.+)$")
_NUMBERED = re.compile(r"^\s*\d{1,3}[.)]\s")
_CUE_TIME = re.compile(r"\d{1,2}:\d\d(?::\d\d)?[,.]\d{3}\s*-->\s*\d{1,2}:\d\d")
_TAG = re.compile(r"<[^>]{1,40}>")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(.+?)\1")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
# Control characters (but newline), surrogates, private use, replacement marks.
_JUNK = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\ufffd]")
_END_PUNCT = ".!?…。！？;；:：,，"
HEADING_MAX_WORDS = 12
HEADING_MAX_CHARS = 90


@dataclass
class Section:
    title: str = ""
    paragraphs: list[str] = field(default_factory=list)
    visuals: list[str] = field(default_factory=list)
    bullets: bool = False  # the body came from a bullet list


class NotText(ValueError):
    """The input is not text a person wrote (binary data, control characters)."""


def clean_text(text: str) -> str:
    """Cleaned text: Unix newlines, no control characters or BOM. Binary junk
    (mostly control characters or replacement marks) raises NotText."""
    # No Unicode normalisation: the narration keeps the author's exact characters.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\ufeff", "").replace("\t", " ")
    bad = len(_JUNK.findall(text))
    if text and bad > max(8, len(text) * 0.1):
        raise NotText(
            f"{bad} of {len(text)} characters are control characters or undecodable bytes: "
            "this looks like binary data, not a script"
        )
    return _JUNK.sub("", text) if bad else text


def inline_clean(line: str) -> str:
    """A line without Markdown emphasis, links or HTML-ish tags, spaces collapsed."""
    line = _LINK.sub(r"\1", line)
    line = _EMPHASIS.sub(r"\2", line)
    line = _TAG.sub("", line)
    return " ".join(line.split())


def is_subtitles(text: str) -> bool:
    head = text.lstrip()[:10].upper()
    return head.startswith("WEBVTT") or len(_CUE_TIME.findall(text[:5000])) >= 1


def subtitles_to_paragraphs(text: str) -> list[str]:
    """The spoken text of SRT / WebVTT cues; a long silence between cues is not
    recoverable here, so each cue block becomes a line of one paragraph."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln.strip() for ln in block.strip().split("\n") if ln.strip()]
        lines = [
            ln
            for ln in lines
            if not _CUE_TIME.search(ln)
            and not ln.isdigit()
            and not ln.upper().startswith(("WEBVTT", "NOTE", "STYLE", "REGION"))
        ]
        words = " ".join(inline_clean(ln) for ln in lines).strip()
        if words:
            out.append(words)
    return [" ".join(out)] if out else []


def _looks_like_heading(line: str) -> bool:
    s = line.strip()
    if not s or len(s) > HEADING_MAX_CHARS or len(s.split()) > HEADING_MAX_WORDS:
        return False
    if s[-1] in _END_PUNCT and not s.endswith("?"):
        return False
    first = s[0]
    return not (first.isalpha() and first.islower())  # headings start with a capital


def _is_body(paragraph: list[str]) -> bool:
    """A paragraph that reads as prose: long enough, or ending like a sentence."""
    text = " ".join(paragraph)
    return len(text.split()) > HEADING_MAX_WORDS or text.rstrip()[-1:] in ".!?…。！？"


def parse_sections(text: str, mode: str = "auto") -> list[Section]:
    """Sections of a cleaned text. `mode`: auto (Markdown headings if there are any,
    else plain-line headings), headings (the same), paragraphs (every paragraph is a
    section; heading lines title the paragraph after them), sentences (one section;
    the assembler splits it)."""
    if is_subtitles(text):
        return [Section(paragraphs=subtitles_to_paragraphs(text))]
    lines = text.split("\n")
    has_md = any(_MD_HEADING.match(ln) for ln in lines) or any(
        _SETEXT.match(lines[i + 1]) and lines[i].strip() and not _BULLET.match(lines[i])
        for i in range(len(lines) - 1)
        if lines[i + 1].strip().startswith("==")
    )
    blocks = _blocks(lines)
    if not has_md:
        blocks = _split_leading_headings(blocks)
    heading_at = _plain_headings(blocks) if not has_md else [False] * len(blocks)
    sections: list[Section] = []
    cur = Section()

    def flush() -> None:
        nonlocal cur
        if cur.title or cur.paragraphs or cur.visuals:
            sections.append(cur)
        cur = Section()

    for k, (kind, content) in enumerate(blocks):
        if kind == "heading" or heading_at[k]:
            flush()
            cur.title = inline_clean(content[0])
        elif kind == "visual":
            cur.visuals.append(content[0])
        elif kind == "para":
            if mode == "paragraphs" and cur.paragraphs:
                flush()
            cur.paragraphs.append(" ".join(inline_clean(ln) for ln in content))
        elif kind == "bullets":
            if mode == "paragraphs" and cur.paragraphs:
                flush()
            cur.bullets = True
            cur.paragraphs.extend(as_sentence(inline_clean(b)) for b in content)
    flush()
    return sections


def _split_leading_headings(blocks: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """A heading pasted right above its paragraph, with no blank line between: the
    first line is heading-like and clearly shorter than the prose lines after it."""
    out: list[tuple[str, list[str]]] = []
    for kind, content in blocks:
        if (
            kind == "para"
            and len(content) > 1
            and _looks_like_heading(content[0])
            and len(content[0]) <= 0.6 * max(len(ln) for ln in content[1:])
            and _is_body(content[1:])
        ):
            out += [("para", [content[0]]), ("para", content[1:])]
        else:
            out.append((kind, content))
    return out


def _plain_headings(blocks: list[tuple[str, list[str]]]) -> list[bool]:
    """Which one-line paragraphs are headings: heading-like, and followed by prose, a
    list, a visual note, or another such heading (an article title over a section
    heading). Decided from the end, so a run of headings resolves in one pass."""
    flags = [False] * len(blocks)
    for k in range(len(blocks) - 2, -1, -1):
        kind, content = blocks[k]
        if kind != "para" or len(content) != 1 or not _looks_like_heading(content[0]):
            continue
        nk, nc = blocks[k + 1]
        flags[k] = nk in ("bullets", "visual", "heading") or (
            nk == "para" and (flags[k + 1] or _is_body(nc))
        )
    return flags


def as_sentence(item: str) -> str:
    """A bullet item read as a sentence: it gets an end mark, so the voice pauses."""
    item = item.strip()
    return item if not item or item[-1] in ".!?…。！？:;।؟" else item + "."


def _blocks(lines: list[str]) -> list[tuple[str, list[str]]]:
    """Lines grouped into ('heading'|'visual'|'para'|'bullets', lines) blocks."""
    out: list[tuple[str, list[str]]] = []
    para: list[str] = []
    bullets: list[str] = []

    def end_para() -> None:
        if para:
            out.append(("para", para.copy()))
            para.clear()

    def end_bullets() -> None:
        if bullets:
            out.append(("bullets", bullets.copy()))
            bullets.clear()

    i = 0
    while i < len(lines):
        ln = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if m := _MD_HEADING.match(ln):
            end_para(), end_bullets()
            title = inline_clean(m.group(2))
            if title:
                out.append(("heading", [title]))
        elif ln.strip() and not para and _SETEXT.match(nxt) and not _BULLET.match(ln):
            end_bullets()
            out.append(("heading", [inline_clean(ln)]))
            i += 1
        elif v := _VISUAL.match(ln):
            end_para()
            if v.group(1).strip():
                out.append(("visual", [inline_clean(v.group(1))]))
        elif (b := _BULLET.match(ln)) and (
            not _NUMBERED.match(ln) or bullets or _NUMBERED.match(nxt)
        ):  # "1. Word" alone is a sentence, not a list
            end_para()
            bullets.append(b.group(1))
        elif not ln.strip():
            end_para(), end_bullets()
        elif bullets and ln.startswith(("  ", "\t")):
            bullets[-1] += " " + ln.strip()  # a wrapped bullet item
        else:
            end_bullets()
            para.append(ln.strip())
        i += 1
    end_para(), end_bullets()
    return out
