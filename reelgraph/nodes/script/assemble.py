"""Scene assembly: sections -> scenes of a target narration length, each with a title,
narration, visual prompt, keywords, tone, language and delivery."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from reelgraph.media import Scene

from .entities import entities
from .keyphrases import document_frequencies, key_phrases
from .languages import detect_language, info
from .sentences import count_words, estimate_seconds, split_sentences
from .structure import Section, as_sentence, clean_text, parse_sections
from .tone import delivery, sentiment, tone_of

MODES = ("auto", "headings", "paragraphs", "sentences")
MIN_WORDS = 2  # a piece shorter than this (one word, or none) joins a neighbour
MAX_TITLE_WORDS = 7
SECTION_SAMPLE = 400  # characters of a section that decide its language


class EmptyScript(ValueError):
    pass


@dataclass
class Piece:
    """A scene before analysis: its heading (if any), sentences and paragraph ends."""

    title: str
    sentences: list[str]
    visuals: list[str] = field(default_factory=list)
    language: str = "en"
    continued: bool = False  # a later part of a long section


@dataclass
class Analysis:
    scenes: list[Scene]
    language: str
    headings: list[str]
    words: int


def analyse(
    text: str,
    seconds: float = 90.0,
    mode: str = "auto",
    language: str = "auto",
    max_words: int = 0,
    keyphrases: str = "fast",
) -> Analysis:
    """Understand a script. `seconds` is the longest narration a scene gets at the
    language's speaking rate (a longer section is split at sentence ends into parts of
    about equal length); `max_words` (0: none) bounds words as well."""
    if mode not in MODES:
        raise ValueError(f"unknown split mode {mode!r}; use one of {', '.join(MODES)}")
    text = clean_text(text)
    if not text.strip():
        raise EmptyScript("the script is empty: write at least one sentence")
    doc_lang = detect_language(text) if language == "auto" else language
    sections = parse_sections(text, mode)
    headings = [s.title for s in sections if s.title]
    pieces = _pieces(sections, doc_lang, language == "auto", mode)
    pieces = _merge_small(pieces)
    if not pieces:
        raise EmptyScript("the script has headings but no narration to speak")
    parts: list[Piece] = []
    for p in pieces:
        parts += _split_long(p, seconds, max_words)
    scenes = _describe(parts, keyphrases)
    return Analysis(
        scenes, doc_lang, headings, sum(count_words(s.narration, s.language) for s in scenes)
    )


def _pieces(sections: list[Section], doc_lang: str, detect: bool, mode: str) -> list[Piece]:
    out: list[Piece] = []
    for sec in sections:
        body = " ".join(sec.paragraphs)
        lang = doc_lang
        if detect and len(body) >= 40:  # enough text to tell: mixed-language scripts
            lang = detect_language(body[:SECTION_SAMPLE], doc_lang, quick=True)
        sents = [s for para in sec.paragraphs for s in split_sentences(para, lang)]
        if mode == "sentences":
            for k, s in enumerate(sents):
                out.append(Piece(sec.title if k == 0 else "", [s], sec.visuals, lang, k > 0))
            if not sents:
                out.append(Piece(sec.title, [], sec.visuals, lang))
        else:
            out.append(Piece(sec.title, sents, sec.visuals, lang))
    return out


def _words(p: Piece) -> int:
    return sum(count_words(s, p.language) for s in p.sentences)


def _merge_small(pieces: list[Piece]) -> list[Piece]:
    """Pieces with (almost) nothing to say join a neighbour: a lone heading gives its
    title to an untitled next piece; a few words join the previous piece (or the next,
    when first). No scene is left that would fail a render."""
    out: list[Piece] = []
    pending_title = ""
    for p in pieces:
        if pending_title and not p.title:
            p.title, pending_title = pending_title, ""
        if not p.sentences:
            pending_title = pending_title or p.title
            if out and p.visuals:
                out[-1].visuals += p.visuals
            continue
        if _words(p) < MIN_WORDS and out:
            out[-1].sentences += [as_sentence(s) for s in p.sentences]
            out[-1].visuals += p.visuals
            continue
        if out and _words(out[-1]) < MIN_WORDS:
            prev = out.pop()
            p.sentences = [as_sentence(s) for s in prev.sentences] + p.sentences
            p.visuals = prev.visuals + p.visuals
            p.title = prev.title or p.title
        out.append(p)
    return out


def _split_long(p: Piece, seconds: float, max_words: int) -> list[Piece]:
    """Parts of about equal length, cut at sentence ends, each within `seconds` (and
    `max_words`); one sentence longer than the bound is cut between words."""
    wps = info(p.language).words_per_second
    limit = seconds * wps if seconds > 0 else math.inf
    if max_words > 0:
        limit = min(limit, max_words)
    total = _words(p)
    if total <= limit:
        return [p]
    sents: list[str] = []
    for s in p.sentences:  # cut over-long sentences first
        ws = s.split() if info(p.language).spaces else list(s)
        joiner = " " if info(p.language).spaces else ""
        step = int(limit) if limit >= 1 else 1
        while len(ws) > step:
            sents.append(joiner.join(ws[:step]))
            ws = ws[step:]
        if ws:
            sents.append(joiner.join(ws))
    n = max(1, math.ceil(total / limit))
    target = total / n
    parts: list[list[str]] = [[]]
    acc = 0
    for s in sents:
        w = count_words(s, p.language)
        if parts[-1] and (acc + w > limit or (acc >= target * 0.92 and len(parts) < n)):
            parts.append([])
            acc = 0
        parts[-1].append(s)
        acc += w
    return [
        Piece(p.title if k == 0 else "", part, p.visuals if k == 0 else [], p.language, k > 0)
        for k, part in enumerate(parts)
        if part
    ]


def _join(sentences: list[str], language: str) -> str:
    return (" " if info(language).spaces else "").join(sentences)


def _describe(parts: list[Piece], method: str) -> list[Scene]:
    narrations = [_join(p.sentences, p.language) for p in parts]
    langs = Counter(p.language for p in parts)
    main = langs.most_common(1)[0][0]
    df = document_frequencies(narrations, main) if len(parts) > 1 else None
    scenes: list[Scene] = []
    for k, (p, narration) in enumerate(zip(parts, narrations, strict=True)):
        phrases = key_phrases(narration, p.language, 6, df, len(parts), method)
        names = entities(narration, p.language)
        score = sentiment(p.sentences, p.language)
        tone = tone_of(score)
        d = delivery(tone, p.sentences)
        title = p.title or _title_from(phrases, names, narration, k)
        visual = " ".join(p.visuals) or visual_prompt(names, phrases, narration)
        scenes.append(
            Scene(
                k,
                title,
                narration,
                visual,
                keywords=phrases[:5],
                tone=tone,
                language=p.language,
                rate=d.rate,
                pause=d.pause,
                mood=d.mood,
                seconds=round(estimate_seconds(narration, p.language, d.rate, d.pause), 2),
            )
        )
    return scenes


def _title_from(phrases: list[str], names: list[str], narration: str, k: int) -> str:
    """A scene title from what it is about: its best key phrase (a name when one leads),
    first letter capitalised. A very short narration is its own title."""
    words = narration.split()
    if len(words) <= 4 and len(narration) <= 40:
        return narration.rstrip(".!?…。！？")
    for cand in [*phrases[:2], *names[:1]]:
        if cand and len(cand.split()) <= MAX_TITLE_WORDS:
            return cand[0].upper() + cand[1:]
    return f"Part {k + 1}"


def visual_prompt(names: list[str], phrases: list[str], narration: str) -> str:
    """Entities first (what to show), then key phrases (what happens), deduplicated."""
    seen: list[str] = []
    # names first, then the phrases of several words (they say more than one word does)
    ranked = sorted(phrases[:5], key=lambda p: len(p.split()) < 2)
    for item in [*names[:3], *ranked]:
        low = item.lower()
        if not any(low in s.lower() or s.lower() in low for s in seen):
            seen.append(item)
    if len(seen) < 2:  # too little to describe: show what is said
        first = narration.split(". ")[0]
        return first if len(first) <= 160 else first[:157].rsplit(" ", 1)[0] + "…"
    return ", ".join(seen[:6])
