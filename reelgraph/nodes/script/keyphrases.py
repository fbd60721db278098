"""Key phrases of a scene: what it is about, for titles, visual prompts and keywords.

Two extractors. `fast` (the default) scores candidate phrases - runs of words between
stopwords and punctuation, as in RAKE and YAKE - by how often their words occur in the
scene, how rare they are in the rest of the script, whether they are capitalised
mid-sentence (names) and how early they appear. It uses YAKE's stopword lists (they
ship with the yake package) and costs well under a millisecond per paragraph. `yake`
runs YAKE itself (better on short texts, ~50x slower); pick it on the node when speed
does not matter.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import re
from collections import Counter
from pathlib import Path

from .languages import info

_WORD = re.compile(r"[^\W_][\w'’-]*[^\W_]|[^\W_]", re.UNICODE)
_BREAK = re.compile(r"[.,;:!?()\[\]{}\"“”«»—–…。，、；：！？（）]")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff\u3040-\u30ff]+")
_CJK_STOP = set("的了是在和与也就都而及或被把对为这那个之其中我你他她它们有一不上下")
_YAKE_CODES = {"pt": "pt", "cs": "cz", "zh": "zh"}


def _yake_folder() -> Path:
    """The yake package's folder, found without importing yake: importing it pulls in
    its whole extractor (0.8 s, on the critical path of every cold render that splits a
    script), and only its stopword files are read here."""
    spec = importlib.util.find_spec("yake")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the yake package (its stopword lists) is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


@functools.lru_cache(maxsize=32)
def stopwords(language: str) -> frozenset[str]:
    """YAKE's stopword list for the language (English's when it has none)."""
    code = _YAKE_CODES.get(language, language)
    base = _yake_folder() / "core" / "StopwordsList"
    for name in (f"stopwords_{code}.txt", "stopwords_en.txt"):
        f = base / name
        if f.is_file():
            return frozenset(
                w.strip().lower() for w in f.read_text("utf-8", "ignore").splitlines() if w.strip()
            )
    return frozenset()


def candidate_phrases(text: str, language: str, max_words: int = 3) -> list[tuple[str, int, bool]]:
    """(phrase, position, capitalised mid-sentence) for every 1..max_words run of content
    words that no stopword or punctuation interrupts."""
    stop = stopwords(language)
    out: list[tuple[str, int, bool]] = []
    pos = 0
    pieces = _BREAK.split(text)
    delims = [m.group(0) for m in _BREAK.finditer(text)]
    for c, chunk in enumerate(pieces):
        sentence_start = c == 0 or delims[c - 1] in ".!?…。！？"
        words = _WORD.findall(chunk)
        run: list[tuple[str, bool]] = []
        for i, w in enumerate([*words, ""]):
            lw = w.lower()
            if not w or lw in stop or len(lw) < 2 or lw.isdigit():
                for n in range(1, max_words + 1):
                    for k in range(len(run) - n + 1):
                        part = run[k : k + n]
                        out.append((" ".join(p for p, _ in part), pos + k, all(c for _, c in part)))
                pos += len(run) + 1
                run = []
                continue
            # A capital that does not start a sentence marks a name.
            run.append((w, w[0].isupper() and not (i == 0 and sentence_start)))
    return out


def key_phrases(
    text: str,
    language: str = "en",
    top: int = 5,
    document: Counter[str] | None = None,
    documents: int = 1,
    method: str = "fast",
) -> list[str]:
    """The `top` key phrases of `text`, best first. `document` counts, per lower-cased
    word, in how many scenes of the whole script it occurs (of `documents`), so a word
    every scene uses weighs less than one this scene is about."""
    if not text.strip():
        return []
    if method == "yake":
        return _yake(text, language, top)
    if not info(language).spaces:
        return _cjk_phrases(text, top)
    cands = candidate_phrases(text, language)
    if not cands:
        return []
    tf = Counter(w.lower() for p, _, _ in cands if " " not in p for w in [p])
    total = len(cands) + 1

    memo: dict[str, float] = {}

    def word_score(w: str) -> float:
        lw = w.lower()
        if lw not in memo:
            idf = math.log(1 + documents / (1 + document.get(lw, 0))) if document else 1.0
            memo[lw] = (1 + math.log(tf[lw] or 1)) * idf * min(1.0, len(lw) / 4)
        return memo[lw]

    scores: dict[str, float] = {}
    shown: dict[str, str] = {}
    for phrase, pos, caps in cands:
        words = phrase.split()
        key = phrase.lower()
        s = sum(word_score(w) for w in words) / len(words) ** 0.5
        s *= 1.5 if caps else 1.0
        if _verb_like(words[-1], language):
            s *= 0.5  # "agency launched": a phrase should end on a thing, not an action
        s *= 1.0 + 0.3 * (1 - pos / total)  # earlier is likelier the subject
        if key in scores:
            scores[key] += s * 0.5  # a repeated phrase
        else:
            scores[key] = s
            shown[key] = phrase
    ranked = sorted(scores, key=lambda k: -scores[k])
    picked: list[str] = []
    for key in ranked:
        words = set(key.split())
        if any(_overlaps(words, set(p.lower().split())) for p in picked):
            continue
        picked.append(shown[key])
        if len(picked) >= top:
            break
    return picked


# Inflections that mark verbs (and adverbs) well enough to keep them off phrase ends.
_VERB_ENDINGS = {
    "en": ("ed", "ing", "ly"),
    "es": ("aba", "aban", "ado", "ada", "ando", "iendo", "ían", "ía", "mente"),
    "de": ("te", "ten", "end"),
    "fr": ("ait", "aient", "ant", "ment"),
}


def _verb_like(word: str, language: str) -> bool:
    w = word.lower()
    return len(w) > 4 and not word[:1].isupper() and w.endswith(_VERB_ENDINGS.get(language, ()))


def _overlaps(a: set[str], b: set[str]) -> bool:
    """Two phrases say the same thing when half of the shorter one is in the other."""
    return len(a & b) * 2 >= min(len(a), len(b))


def _cjk_phrases(text: str, top: int) -> list[str]:
    """Chinese/Japanese: frequent 2-4 character runs inside runs of Han/kana, cut at
    function characters; longer beats shorter at equal frequency."""
    counts: Counter[str] = Counter()
    for run in _CJK_RUN.findall(text):
        for piece in re.split("[" + "".join(_CJK_STOP) + "]", run):
            for n in (2, 3, 4):
                for k in range(len(piece) - n + 1):
                    counts[piece[k : k + n]] += 1
    ranked = sorted(counts, key=lambda p: (-(counts[p] * len(p) ** 0.7), text.find(p)))
    picked: list[str] = []
    for p in ranked:
        if any(_overlaps(set(p), set(q)) for q in picked):
            continue
        picked.append(p)
        if len(picked) >= top:
            break
    return picked


def _yake(text: str, language: str, top: int) -> list[str]:
    import yake

    code = _YAKE_CODES.get(language, language)
    try:
        kw = yake.KeywordExtractor(lan=code, n=3, top=top)
    except Exception:
        kw = yake.KeywordExtractor(lan="en", n=3, top=top)
    return [k for k, _ in kw.extract_keywords(text)]


def document_frequencies(texts: list[str], language: str) -> Counter[str]:
    """In how many of `texts` each lower-cased content word occurs."""
    stop = stopwords(language)
    df: Counter[str] = Counter()
    for t in texts:
        df.update({w.lower() for w in _WORD.findall(t) if w.lower() not in stop})
    return df
