"""msgpack codecs so the disk cache can keep audio, scenes, cues and timings."""

from __future__ import annotations

from typing import Any

from ..serialize import register_codec
from .audio import PCM16_SCALE, AudioClip, Pcm16Audio, ScaledAudio
from .pixels import PixelImage
from .records import Cue, PhonemeTiming, Scene, SpeechTimings, WordTiming


def _enc_audio(a: AudioClip) -> Any:
    """Numpy samples (no torch): as int16 codes when every sample is k/32768 (speech
    from a 16-bit voice), which is exact and half the bytes, else as float32."""
    import numpy as np

    x = a.array
    if x.size and float(np.abs(x).max()) <= 1.0:
        codes = np.rint(x * np.float32(PCM16_SCALE))
        if codes.max() < PCM16_SCALE and np.array_equal(codes / np.float32(PCM16_SCALE), x):
            return [a.sample_rate, codes.astype(np.int16), PCM16_SCALE]
    return [a.sample_rate, x]


def _enc_pcm16(a: Pcm16Audio) -> Any:
    return [a.sample_rate, a.codes, PCM16_SCALE]


def _dec_audio(p: Any) -> AudioClip:
    import numpy as np

    if len(p) > 2:  # int16 codes and their scale: held as they are (half the bytes)
        if float(p[2]) == PCM16_SCALE and getattr(p[1], "dtype", None) == np.int16:
            return Pcm16Audio(p[1], p[0])
        return AudioClip(p[1].astype(np.float32) / np.float32(p[2]), p[0])
    return AudioClip(p[1], p[0])  # float32 (an array, or a tensor in older entries)


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
# the same entry format: a 16-bit clip is stored as its codes, read back as one
register_codec(Pcm16Audio, "media.audio", _enc_pcm16, _dec_audio)
# a normalised scene: its source (16-bit codes for speech) and the gain, not the product
register_codec(
    ScaledAudio,
    "media.scaled_audio",
    lambda a: [a.gain, a.source],
    lambda p: ScaledAudio(p[1], p[0]),
)
register_codec(
    Scene,
    "media.scene",
    # Entries written before scene analysis existed have five fields, no extras.
    lambda s: [s.index, s.title, s.narration, s.visual, s.duration, s.get_extra()],
    lambda p: Scene(*p[:5], **(p[5] if len(p) > 5 else {})),
)
register_codec(Cue, "media.cue", lambda c: [c.start, c.end, c.text], lambda p: Cue(*p))
register_codec(SpeechTimings, "media.timings", _enc_timings, _dec_timings)
# Packed frames go to disk as they are: a card read back is not unpacked until it is used.
register_codec(PixelImage, "media.pixels", PixelImage.to_value, PixelImage.from_value)
