"""Tone of a scene and the delivery it asks for.

Sentiment comes from VADER (vaderSentiment ships its lexicon; English). Other languages
fall back to punctuation (exclamations, questions), since a lexicon for one language
says nothing about another. The tone sets how the scene is spoken and scored: voice
rate (a speed factor), the pause between sentences, and a music mood.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

_ANALYZER: Any = None
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Delivery:
    rate: float  # multiplies the voice's speed
    pause: float  # seconds between sentences
    mood: str  # music mood


# Sad or grave news is read slower with longer pauses; good news a little brisker.
DELIVERY = {
    "upbeat": Delivery(1.06, 0.18, "uplifting"),
    "warm": Delivery(1.02, 0.22, "warm"),
    "neutral": Delivery(1.0, 0.25, "calm"),
    "serious": Delivery(0.95, 0.32, "tense"),
    "somber": Delivery(0.9, 0.4, "melancholic"),
}
TONES = tuple(DELIVERY)


def _analyzer() -> Any:
    global _ANALYZER
    with _LOCK:
        if _ANALYZER is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            _ANALYZER = SentimentIntensityAnalyzer()
        return _ANALYZER


def sentiment(sentences: list[str], language: str = "en") -> float:
    """Mean compound sentiment in -1..1 (0 for languages VADER does not know)."""
    if not sentences:
        return 0.0
    if language != "en":
        bangs = sum(s.rstrip().endswith(("!", "！")) for s in sentences)
        return min(0.6, 0.3 * bangs / len(sentences) * 2)
    a = _analyzer()
    return sum(a.polarity_scores(s)["compound"] for s in sentences) / len(sentences)


def tone_of(score: float) -> str:
    if score >= 0.45:
        return "upbeat"
    if score >= 0.15:
        return "warm"
    if score <= -0.45:
        return "somber"
    if score <= -0.15:
        return "serious"
    return "neutral"


def delivery(tone: str, sentences: list[str] | None = None) -> Delivery:
    """The delivery for a tone; many exclamations speed it up a touch more."""
    d = DELIVERY.get(tone, DELIVERY["neutral"])
    if sentences:
        bangs = sum(s.rstrip().endswith(("!", "！")) for s in sentences) / len(sentences)
        if bangs >= 0.3:
            return Delivery(round(min(1.15, d.rate + 0.04), 3), max(0.12, d.pause - 0.04), d.mood)
    return d
