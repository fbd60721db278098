"""The languages scripts may be written in: detection (lingua) and per-language facts
(espeak-ng voice, pysbd code, whether words are separated by spaces)."""

from __future__ import annotations

import functools
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LanguageInfo:
    code: str  # ISO 639-1, the code Piper voice names start with (de_DE-...)
    lingua: str  # lingua's Language member name
    espeak: str  # espeak-ng voice
    pysbd: str | None  # pysbd language code (None: our own splitter)
    spaces: bool = True  # False: CJK, words are not separated by spaces
    rtl: bool = False
    words_per_second: float = 2.6  # speaking rate at speed 1 (CJK: characters per second)


_TABLE = (
    LanguageInfo("en", "ENGLISH", "en-us", "en"),
    LanguageInfo("de", "GERMAN", "de", "de", words_per_second=2.3),
    LanguageInfo("es", "SPANISH", "es", "es", words_per_second=2.8),
    LanguageInfo("fr", "FRENCH", "fr-fr", "fr", words_per_second=2.8),
    LanguageInfo("it", "ITALIAN", "it", "it", words_per_second=2.7),
    LanguageInfo("pt", "PORTUGUESE", "pt", None, words_per_second=2.7),
    LanguageInfo("nl", "DUTCH", "nl", "nl", words_per_second=2.6),
    LanguageInfo("pl", "POLISH", "pl", "pl", words_per_second=2.3),
    LanguageInfo("ru", "RUSSIAN", "ru", "ru", words_per_second=2.3),
    LanguageInfo("uk", "UKRAINIAN", "uk", None, words_per_second=2.3),
    LanguageInfo("tr", "TURKISH", "tr", None, words_per_second=2.2),
    LanguageInfo("sv", "SWEDISH", "sv", None, words_per_second=2.5),
    LanguageInfo("el", "GREEK", "el", "el", words_per_second=2.4),
    LanguageInfo("ar", "ARABIC", "ar", "ar", rtl=True, words_per_second=2.2),
    LanguageInfo("fa", "PERSIAN", "fa", "fa", rtl=True, words_per_second=2.3),
    LanguageInfo("he", "HEBREW", "he", None, rtl=True, words_per_second=2.3),
    LanguageInfo("ur", "URDU", "ur", "ur", rtl=True, words_per_second=2.4),
    LanguageInfo("hi", "HINDI", "hi", "hi", words_per_second=2.6),
    LanguageInfo("bn", "BENGALI", "bn", None, words_per_second=2.4),
    LanguageInfo("mr", "MARATHI", "mr", "mr", words_per_second=2.4),
    LanguageInfo("ta", "TAMIL", "ta", None, words_per_second=2.0),
    LanguageInfo("zh", "CHINESE", "cmn", "zh", spaces=False, words_per_second=4.5),
    LanguageInfo("ja", "JAPANESE", "ja", "ja", spaces=False, words_per_second=7.0),
    LanguageInfo("ko", "KOREAN", "ko", None, words_per_second=2.4),
    LanguageInfo("th", "THAI", "th", None, spaces=False, words_per_second=4.0),
    LanguageInfo("vi", "VIETNAMESE", "vi", None, words_per_second=3.0),
)
LANGUAGES: dict[str, LanguageInfo] = {li.code: li for li in _TABLE}
DEFAULT_LANGUAGE = "en"


def info(code: str) -> LanguageInfo:
    """Facts for a language code; an unknown code gets English's splitting rules."""
    base = code.lower().replace("-", "_").split("_")[0]
    return LANGUAGES.get(base) or LanguageInfo(base, "", base, None)


_DETECTORS: dict[bool, Any] = {}
_DETECTOR_LOCK = threading.Lock()


def _detector(quick: bool = False) -> Any:
    """A lingua detector for the process, built once and only from the languages we
    support: fewer candidate models is what keeps detection fast. `quick` uses lingua's
    low-accuracy mode (trigrams only), reliable on a paragraph and several times faster:
    it checks each section once the whole text's language is known."""
    with _DETECTOR_LOCK:
        if quick not in _DETECTORS:
            from lingua import Language, LanguageDetectorBuilder

            langs = [getattr(Language, li.lingua) for li in _TABLE]
            builder = LanguageDetectorBuilder.from_languages(*langs)
            _DETECTORS[quick] = (builder.with_low_accuracy_mode() if quick else builder).build()
        return _DETECTORS[quick]


_BY_LINGUA = {li.lingua: li.code for li in _TABLE}
SAMPLE_CHARS = 1500  # a longer sample costs time and never changes the answer for prose
# Below this many letters lingua's accurate mode uses every n-gram model (from 120 on,
# trigrams only). Short sentences in 13 languages (46 of them: greetings, offers,
# sign-offs) were all placed right by trigrams alone, 43 with a confidence of 0.95 or
# more; of 43 phrases of two to four words, none that trigrams got wrong had more than
# 0.84. So a trigram answer of SURE_ON_TRIGRAMS is taken as it is.
SHORT_TEXT_LETTERS = 130
SURE_ON_TRIGRAMS = 0.95


def detect_language(text: str, default: str = DEFAULT_LANGUAGE, quick: bool = False) -> str:
    """The ISO code of the text's language, or `default` when there is too little
    text to tell (one short word) or it is not a language we know."""
    sample = _letters_sample(text)
    if len(sample) < 3:
        return default
    script = dominant_script(sample)
    # Scripts that belong to one language we know need no statistics.
    by_script = {"hangul": "ko", "kana": "ja", "thai": "th", "hebrew": "he", "bengali": "bn"}
    if script in by_script:
        return by_script[script]
    if script == "han":
        return "zh"
    if script == "latin" and len(sample.split()) < 3:
        return default  # "Hello" alone fits a dozen languages: keep the default
    if not quick and sum(c.isalpha() for c in sample) < SHORT_TEXT_LETTERS:
        # On a short text lingua's accurate mode loads its 1- to 5-gram models of every
        # language: ~2 s of CPU and ~260 MB held for the rest of the process, for one
        # short script or the sentence a Speak node with the `auto` voice is given.
        # Its trigram models (what every longer text is told by) place most sentences
        # on their own: their answer when they are sure, else the accurate one.
        best = _detector(True).compute_language_confidence_values(sample)
        if best and best[0].value >= SURE_ON_TRIGRAMS:
            return _BY_LINGUA.get(best[0].language.name, default)
    found = _detector(quick).detect_language_of(sample)
    if found is None:
        return default
    return _BY_LINGUA.get(found.name, default)


def _letters_sample(text: str) -> str:
    """A sample of the text from its start, middle and end (a pasted article may begin
    with a byline in another language)."""
    text = " ".join(text.split())
    if len(text) <= SAMPLE_CHARS:
        return text
    third = SAMPLE_CHARS // 3
    mid = len(text) // 2
    return " ".join((text[:third], text[mid : mid + third], text[-third:]))


@functools.lru_cache(maxsize=4096)
def char_script(ch: str) -> str:
    """A coarse Unicode script of one character ('' for digits, spaces, punctuation)."""
    o = ord(ch)
    if o < 0x80:
        return "latin" if ch.isalpha() else ""
    if 0x0590 <= o <= 0x05FF:
        return "hebrew"
    if 0x0600 <= o <= 0x06FF or 0x0750 <= o <= 0x077F or 0xFB50 <= o <= 0xFEFF:
        return "arabic"
    if 0x0900 <= o <= 0x097F:
        return "devanagari"
    if 0x0980 <= o <= 0x09FF:
        return "bengali"
    if 0x0B80 <= o <= 0x0BFF:
        return "tamil"
    if 0x0E00 <= o <= 0x0E7F:
        return "thai"
    if 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF:
        return "kana"
    if 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF:
        return "hangul"
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF:
        return "han"
    if 0x3000 <= o <= 0x303F or (0xFF00 <= o <= 0xFF65 and not ch.isalnum()):
        return "cjk-punct"
    if 0x0370 <= o <= 0x03FF:
        return "greek"
    if 0x0400 <= o <= 0x04FF:
        return "cyrillic"
    cat = unicodedata.category(ch)
    return "latin" if cat.startswith("L") and o < 0x0250 else ("other" if cat[0] == "L" else "")


def dominant_script(text: str) -> str:
    """The script most letters of `text` are written in ('latin' when there are none).
    Japanese text mixes kana and han: any kana makes it 'kana'."""
    if text.isascii():
        return "latin"
    counts: dict[str, int] = {}
    for ch in text[:4000]:
        s = char_script(ch)
        if s and s != "cjk-punct":
            counts[s] = counts.get(s, 0) + 1
    if not counts:
        return "latin"
    if counts.get("kana", 0) and counts.get("kana", 0) + counts.get("han", 0) >= max(
        counts.values()
    ):
        return "kana"
    return max(counts, key=lambda k: counts[k])


def is_cjk_char(ch: str) -> bool:
    """Han, kana and CJK punctuation: text without spaces between words (Korean has them)."""
    return char_script(ch) in ("han", "kana", "cjk-punct")
