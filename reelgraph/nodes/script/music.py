"""A music bed for a scene's mood: soft chords (and, for bright moods, a slow arpeggio)
synthesised offline, so the tone SplitScenes finds can be heard, not just read.
Link SplitScenes' `mood` and the scene's voice (`match`) and mix with audio.Mix."""

from __future__ import annotations

from typing import Annotated, Any

from reelgraph import AUDIO, Audio, Float, Int, NodeInputError, Text, node
from reelgraph.media import AudioClip

# mood -> (beats per minute, root MIDI note, chord roots in semitones above it, minor?,
# arpeggio?). Sad moods: slow, minor, low; bright ones: faster, major, higher.
MOODS: dict[str, tuple[float, int, tuple[int, ...], bool, bool]] = {
    "uplifting": (104.0, 60, (0, 7, 9, 5), False, True),
    "warm": (88.0, 57, (0, 5, 7, 5), False, True),
    "calm": (72.0, 55, (0, 5, 0, 7), False, False),
    "tense": (66.0, 52, (0, 1, 0, 5), True, False),
    "melancholic": (58.0, 50, (0, 8, 3, 10), True, False),
}


SYNTH_RATE = 12000


def _freq(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def mood_music(mood: str, seconds: float, sample_rate: int = 48000) -> AudioClip:
    """`seconds` of the mood's music, stereo float32, peaking near -12 dBFS."""
    import numpy as np
    import torch

    bpm, root, roots, minor, arpeggio = MOODS.get(mood, MOODS["calm"])
    target_n = max(1, round(seconds * sample_rate))
    sample_rate, out_rate = SYNTH_RATE, sample_rate  # the highest partial is below 4 kHz
    n = max(1, round(seconds * sample_rate))
    t = np.arange(n, dtype=np.float32) / sample_rate
    bar = 4 * 60.0 / bpm  # one chord per bar
    out = np.zeros(n, np.float32)
    third = 3 if minor else 4
    for k in range(int(np.ceil(seconds / bar)) + 1):
        a, b = k * bar, (k + 1) * bar
        i0, i1 = int(a * sample_rate), min(n, int((b + bar * 0.5) * sample_rate))
        if i0 >= n:
            break
        seg = t[i0:i1] - a
        # slow swell in, long release into the next chord: a pad, not a pluck
        env = np.minimum(1.0, seg / (bar * 0.35)) * np.exp(-np.maximum(0.0, seg - bar) * 3.0)
        base = root + roots[k % len(roots)]
        for step, gain in ((0, 1.0), (third, 0.7), (7, 0.7), (12, 0.35)):
            f = _freq(base + step)
            tone = np.sin(2 * np.pi * f * seg) + 0.25 * np.sin(4 * np.pi * f * seg)
            out[i0:i1] += gain * env * tone
        if arpeggio:
            beat = bar / 8
            for j, step in enumerate((0, third, 7, 12, 7, third, 0, 7)):
                s0 = int((a + j * beat) * sample_rate)
                s1 = min(n, s0 + int(beat * 1.5 * sample_rate))
                if s0 >= n:
                    break
                u = t[s0:s1] - (a + j * beat)
                out[s0:s1] += (
                    0.35 * np.exp(-u * 6) * np.sin(2 * np.pi * _freq(base + 12 + step) * u)
                )
    fade = min(n, int(sample_rate * 0.5))
    out[:fade] *= np.linspace(0, 1, fade)
    out[n - fade :] *= np.linspace(1, 0, fade)
    peak = float(np.abs(out).max()) or 1.0
    out = out / peak * 10 ** (-12 / 20)
    mono = np.interp(np.arange(target_n) * (sample_rate / out_rate), np.arange(n), out).astype(
        np.float32
    )
    return AudioClip(torch.from_numpy(np.stack([mono, mono])), out_rate)


@node("audio.MoodMusic", category="audio/source", outputs={"audio": AUDIO})
def music_for_mood(
    mood: Annotated[str, Text(placeholder="calm")] = "calm",
    match: Audio = None,
    seconds: Annotated[float, Float(0.0, 3600.0, 0.5)] = 10.0,
    tail: Annotated[float, Float(0.0, 10.0, 0.1)] = 0.5,
    sample_rate: Annotated[int, Int(8000, 96000)] = 48000,
) -> Any:
    """A music bed in a mood: uplifting, warm, calm, tense or melancholic (what
    SplitScenes' `mood` gives each scene from its tone). As long as `match` (the
    scene's voice) plus `tail`, or `seconds` without it. Mix it under the voice with
    audio.Mix."""
    if mood not in MOODS:
        raise NodeInputError("mood", f"unknown mood {mood!r}; one of {', '.join(MOODS)}")
    length = (match.duration + tail) if match is not None else seconds
    if length <= 0:
        raise NodeInputError("seconds", "the music needs a length above 0 seconds")
    return mood_music(mood, length, sample_rate)
