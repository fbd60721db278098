"""Plain records that flow between text, TTS and subtitle nodes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..types import register_type

# One scene record; SplitScenes outputs list[SCENE], so per-scene nodes map over it.
SCENE = register_type("SCENE", "#ffd54f", "One scene: title, narration, visual prompt")
# Word and sentence times of one utterance, from the TTS alignments.
TIMINGS = register_type("TIMINGS", "#ce93d8", "Word timings of an utterance (from TTS)")


@dataclass(frozen=True)
class Scene:
    """One scene of a script: what is shown (title, visual prompt) and what is said."""

    index: int
    title: str
    narration: str
    visual: str = ""
    duration: float = 0.0  # 0: as long as its narration

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WordTiming:
    word: str
    start: float  # seconds from the start of the utterance
    end: float


@dataclass(frozen=True)
class SpeechTimings:
    """When each word of an utterance is spoken, from the TTS alignments."""

    text: str
    duration: float
    words: tuple[WordTiming, ...] = field(default_factory=tuple)
    sentences: tuple[tuple[float, float], ...] = field(default_factory=tuple)

    def shifted(self, offset: float) -> SpeechTimings:
        return SpeechTimings(
            self.text, self.duration,
            tuple(WordTiming(w.word, w.start + offset, w.end + offset) for w in self.words),
            tuple((a + offset, b + offset) for a, b in self.sentences),
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
