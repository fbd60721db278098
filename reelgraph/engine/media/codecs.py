"""msgpack codecs so the disk cache can keep audio, scenes, cues and timings."""

from __future__ import annotations

from typing import Any

from ..serialize import register_codec
from .audio import AudioClip
from .pixels import PixelImage
from .records import Cue, PhonemeTiming, Scene, SpeechTimings, WordTiming


def _enc_audio(a: AudioClip) -> Any:
    return [a.sample_rate, a.samples]


def _dec_audio(p: Any) -> AudioClip:
    return AudioClip(p[1], p[0])


def _enc_timings(t: SpeechTimings) -> Any:
    return [
        t.text,
        t.duration,
        [[w.word, w.start, w.end] for w in t.words],
        [list(s) for s in t.sentences],
        [[p.phoneme, p.start, p.end] for p in t.phonemes],
    ]


def _dec_timings(p: Any) -> SpeechTimings:
    # Entries written before phoneme timings existed have four fields.
    return SpeechTimings(
        p[0],
        p[1],
        tuple(WordTiming(*w) for w in p[2]),
        tuple((a, b) for a, b in p[3]),
        tuple(PhonemeTiming(*x) for x in (p[4] if len(p) > 4 else ())),
    )


register_codec(AudioClip, "media.audio", _enc_audio, _dec_audio)
register_codec(
    Scene,
    "media.scene",
    # Entries written before scene analysis existed have five fields, no extras.
    lambda s: [s.index, s.title, s.narration, s.visual, s.duration, s.get_extra()],
    lambda p: Scene(*p[:5], **(p[5] if len(p) > 5 else {})),
)
register_codec(Cue, "media.cue", lambda c: [c.start, c.end, c.text], lambda p: Cue(*p))
register_codec(SpeechTimings, "media.timings", _enc_timings, _dec_timings)
register_codec(PixelImage, "media.pixels", lambda p: p.pixels, PixelImage)
