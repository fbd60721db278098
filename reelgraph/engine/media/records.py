"""Plain records that flow between text, TTS and subtitle nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..types import register_type

# One scene record; SplitScenes outputs list[SCENE], so per-scene nodes map over it.
SCENE = register_type("SCENE", "#ffd54f", "One scene: title, narration, visual prompt")
# Word and sentence times of one utterance, from the TTS alignments.
TIMINGS = register_type("TIMINGS", "#ce93d8", "Word timings of an utterance (from TTS)")


class Scene(dict):
    """One scene of a script: what is shown (title, visual prompt) and what is said.

    A dict underneath (read through the attributes; never mutate it): the scheduler keys
    a plain mapping by its content, so when a script is edited, every scene that did not
    change keeps its cache key and is not rendered or spoken again."""

    __slots__ = ()
    FIELDS = ("index", "title", "narration", "visual", "duration")
    # What script understanding adds (all optional, plain values so keys stay content keys):
    # keywords, tone ("positive"/"neutral"/"negative"), language (ISO 639-1), delivery
    # (rate: speaking-speed factor, pause: seconds between sentences, mood: music mood),
    # seconds (estimated narration length).
    EXTRA = ("keywords", "tone", "language", "rate", "pause", "mood", "seconds")

    def __init__(
        self,
        index: int,
        title: str,
        narration: str,
        visual: str = "",
        duration: float = 0.0,
        **extra: Any,
    ):
        super().__init__(
            index=int(index),
            title=str(title),
            narration=str(narration),
            visual=str(visual),
            duration=float(duration),
        )  # duration 0: as long as its narration
        unknown = set(extra) - set(self.EXTRA)
        if unknown:
            raise TypeError(f"unknown scene fields {sorted(unknown)}; known: {self.EXTRA}")
        if "keywords" in extra:
            extra["keywords"] = [str(k) for k in extra["keywords"]]
        self.update(extra)

    def get_extra(self) -> dict[str, Any]:
        return {k: self[k] for k in self.EXTRA if k in self}

    @property
    def keywords(self) -> list[str]:
        return list(self.get("keywords", ()))

    @property
    def tone(self) -> str:
        return str(self.get("tone", "neutral"))

    @property
    def language(self) -> str:
        return str(self.get("language", ""))

    @property
    def rate(self) -> float:
        return float(self.get("rate", 1.0))

    @property
    def pause(self) -> float:
        return float(self.get("pause", 0.2))

    @property
    def mood(self) -> str:
        return str(self.get("mood", "neutral"))

    @property
    def seconds(self) -> float:
        return float(self.get("seconds", 0.0))

    @property
    def index(self) -> int:
        return self["index"]

    @property
    def title(self) -> str:
        return self["title"]

    @property
    def narration(self) -> str:
        return self["narration"]

    @property
    def visual(self) -> str:
        return self["visual"]

    @property
    def duration(self) -> float:
        return self["duration"]

    def to_dict(self) -> dict[str, Any]:
        return dict(self)

    def __repr__(self) -> str:
        shown = [*self.FIELDS, *(k for k in self.EXTRA if k in self)]
        return "Scene(" + ", ".join(f"{k}={self[k]!r}" for k in shown) + ")"


@dataclass(frozen=True)
class WordTiming:
    word: str
    start: float  # seconds from the start of the utterance
    end: float


@dataclass(frozen=True)
class PhonemeTiming:
    """One spoken phoneme (IPA, as Piper/espeak writes it: `m`, `aɪ`-parts, `uː`) and when
    it sounds. Stress marks are folded into the phoneme they stress, length marks into
    the vowel they lengthen; pauses (spaces, punctuation, start/end) are left out."""

    phoneme: str
    start: float  # seconds from the start of the utterance
    end: float


@dataclass(frozen=True)
class SpeechTimings:
    """When each word (and, from Piper, each phoneme) of an utterance is spoken, from
    the TTS alignments. `phonemes` is empty when the TTS gives no alignments."""

    text: str
    duration: float
    words: tuple[WordTiming, ...] = field(default_factory=tuple)
    sentences: tuple[tuple[float, float], ...] = field(default_factory=tuple)
    phonemes: tuple[PhonemeTiming, ...] = field(default_factory=tuple)

    def shifted(self, offset: float) -> SpeechTimings:
        return SpeechTimings(
            self.text,
            self.duration,
            tuple(WordTiming(w.word, w.start + offset, w.end + offset) for w in self.words),
            tuple((a + offset, b + offset) for a, b in self.sentences),
            tuple(
                PhonemeTiming(p.phoneme, p.start + offset, p.end + offset) for p in self.phonemes
            ),
        )


@dataclass(frozen=True)
class Cue:
    """One subtitle: shown from `start` to `end` seconds; `text` may hold one line break."""

    start: float
    end: float
    text: str

    @property
    def duration(self) -> float:
        return self.end - self.start
