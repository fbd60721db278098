"""Sentences, per language. pysbd (rule-based, ships its rules) handles the hard cases:
abbreviations, initials, numbers, quotes. Most prose has none of those, so a paragraph
whose every candidate boundary is unambiguous is split by one regex; only paragraphs
with a doubtful boundary pay for pysbd. CJK, Thai and Devanagari end marks are
their own rules (no spaces after 。 in Chinese)."""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

from .languages import info

# A candidate boundary: end mark(s), optional closing quote/bracket, whitespace.
_CANDIDATE = re.compile(r"([.!?…]+[\"'”’)\]]*)(\s+)")
_CJK_END = re.compile(r"([。！？!?；…]+[」』”’）)\]]*)")
_DANDA_END = re.compile(r"([।॥!?]+)\s*")
_ARABIC_END = re.compile(r"([.!?؟…]+[\"'”)\]]*)(\s+)")
# Words that end with a dot without ending a sentence (pysbd knows many more; these send
# a paragraph to pysbd).
_ABBREV = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "etc",
        "eg",
        "ie",
        "e.g",
        "i.e",
        "inc",
        "ltd",
        "co",
        "corp",
        "no",
        "fig",
        "approx",
        "dept",
        "est",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mt",
        "ft",
        "lt",
        "col",
        "gen",
        "rev",
        "u.s",
        "u.k",
        "a.m",
        "p.m",
        "bzw",
        "usw",
        "z.b",
        "d.h",
        "ca",
        "nr",
        "sra",
        "sr",
        "dña",
        "ud",
        "uds",
        "pp",
        "vol",
        "ed",
        "eds",
        "al",
    ]
)

_SEGMENTERS: dict[str, Any] = {}
_LOCK = threading.Lock()


def _segmenter(code: str) -> Any:
    with _LOCK:
        if code not in _SEGMENTERS:
            import pysbd

            _SEGMENTERS[code] = pysbd.Segmenter(language=code, clean=False)
        return _SEGMENTERS[code]


def _doubtful(text: str) -> bool:
    """A boundary the regex could get wrong: a dot after an abbreviation, an initial, a
    number, or before a lower-case word."""
    for m in _CANDIDATE.finditer(text):
        end = m.end()
        before = text[: m.start()].rsplit(None, 1)[-1] if text[: m.start()].strip() else ""
        word = before.lower().strip("(\"'“")
        after = text[end : end + 1]
        if m.group(1).startswith(".") and (
            word in _ABBREV
            or len(word) == 1
            or "." in word
            or word.isdigit()
            or (after and after.islower())
        ):
            return True
    return False


def _regex_split(text: str, pattern: re.Pattern[str] = _CANDIDATE) -> list[str]:
    out, start = [], 0
    for m in pattern.finditer(text):
        nxt = text[m.end() : m.end() + 1]
        if nxt and not nxt.islower():  # caseless scripts (Arabic) never look lower-case
            out.append(text[start : m.end(1)].strip())
            start = m.end()
    out.append(text[start:].strip())
    return [s for s in out if s]


def split_sentences(text: str, language: str = "en") -> list[str]:
    """The sentences of one paragraph (spaces collapsed), in reading order."""
    text = " ".join(text.split())
    if not text:
        return []
    li = info(language)
    if not li.spaces or re.search(r"[。！？]", text):
        return _split_cjk(text)
    if li.code in ("hi", "mr", "bn"):
        return [s.strip() for s in _split_keep(_DANDA_END, text) if s.strip()]
    if li.code in ("ar", "fa", "ur"):
        return _regex_split(text, _ARABIC_END)
    pieces = _regex_split(text)
    if not li.pysbd:
        return pieces
    out: list[str] = []
    window: list[str] = []
    for k, piece in enumerate(pieces):
        window.append(piece)
        # Close a window only where the boundary after it is sure, so pysbd sees every
        # doubtful boundary with its context; windows keep pysbd's input small.
        last = k == len(pieces) - 1
        if last or (sum(map(len, window)) > 400 and not _doubtful(piece + " X")):
            joined = " ".join(window)
            out += _pysbd(joined, li.pysbd) if _doubtful(joined) else window
            window = []
    return out


def _pysbd(text: str, code: str | None) -> list[str]:
    if not code:
        return _regex_split(text)
    return [s.strip() for s in _segmenter(code).segment(text) if s.strip()]


def _split_keep(pattern: re.Pattern[str], text: str) -> list[str]:
    """Split after each match, keeping the end marks with their sentence."""
    out, start = [], 0
    for m in pattern.finditer(text):
        out.append(text[start : m.end(1)])
        start = m.end()
    out.append(text[start:])
    return out


def _split_cjk(text: str) -> list[str]:
    return [s.strip() for s in _split_keep(_CJK_END, text) if s.strip()]


def count_words(text: str, language: str = "en") -> int:
    """Words, or for languages written without spaces, characters (what a speaking
    rate for them counts)."""
    if info(language).spaces:
        return len(text.split())
    return sum(1 for ch in text if ch.isalnum())


@functools.lru_cache(maxsize=64)
def words_per_second(language: str) -> float:
    return info(language).words_per_second


def estimate_seconds(
    text: str, language: str = "en", rate: float = 1.0, pause: float = 0.25
) -> float:
    """Narration length at the language's usual speaking rate, times `rate`, plus a
    pause between sentences."""
    n = count_words(text, language)
    sentences = max(1, len(re.findall(r"[.!?…。！？।؟]+", text)))
    return n / (words_per_second(language) * max(rate, 0.1)) + pause * (sentences - 1)


_CLOSING = set("。！？，、；：」』”’）)]!?,.;:…")


def spoken_words(text: str, language: str = "en") -> list[str]:
    """The words of a text as subtitles and timings count them: space-separated words,
    or for Chinese/Japanese each character, with punctuation kept on the one before."""
    if info(language).spaces and not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text):
        return text.split()
    out: list[str] = []
    for part in text.split():
        for ch in part:
            if out and ch in _CLOSING:
                out[-1] += ch
            elif (
                ch.isascii()
                and ch.isalnum()
                and out
                and out[-1][-1:].isascii()
                and out[-1][-1:].isalnum()
            ):
                out[-1] += ch  # a Latin word or number inside CJK text stays whole
            else:
                out.append(ch)
    return out
