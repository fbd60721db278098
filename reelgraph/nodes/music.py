"""Music and loudness for where the video goes.

`music.Background` lays a music track under a video's narration: its volume, ducking
while someone speaks, a fade in and out, looped (with a short crossfade at each seam)
or played once and trimmed to the video's length. `music.Loudness` and
`music.LoudnessVideo` bring the result to the loudness a destination expects: -14
LUFS for social platforms, -16 for podcasts and speech, -23 (EBU R128) for broadcast,
measured with pyloudnorm's ITU-R BS.1770-4 meter, with peaks held under a ceiling by
a look-ahead limiter so the target is met even for speech with a high crest factor.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from reelgraph import (
    AUDIO,
    FLOAT,
    VIDEO,
    Audio,
    Combo,
    Float,
    NodeInputError,
    Video,
    node,
)
from reelgraph.media import AudioClip

DESTINATIONS = {"social": -14.0, "podcast": -16.0, "broadcast": -23.0}
DESTINATION_NAMES = (*DESTINATIONS, "custom")
FITS = ("loop", "trim")
# Loudness is met to within this (LU) before the limiter's iterations stop.
TOLERANCE = 0.05


def measure_lufs(samples: Any, rate: int) -> float:
    """Integrated loudness (LUFS) of float samples [C, N] with pyloudnorm's BS.1770-4 meter
    (K-weighting, 400 ms blocks, absolute and relative gates); -inf when silent."""
    import warnings

    import numpy as np
    import pyloudnorm

    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 1:
        x = x[None]
    if x.shape[1] < round(0.4 * rate):
        return -math.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyloudnorm warns on clipping; we limit ourselves
        return float(pyloudnorm.Meter(rate).integrated_loudness(x.T))


def limit_peaks(x: Any, rate: int, ceiling: float, lookahead: float = 0.005) -> Any:
    """Hold sample peaks of [C, N] under `ceiling` (linear) with a smooth gain: each
    sample's needed gain is spread by a running minimum over twice the look-ahead and
    then averaged over it, so the gain never exceeds what any sample needs and never
    jumps (no clicks, little distortion)."""
    import numpy as np
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    peak = np.abs(x).max(axis=0)
    if peak.size == 0 or float(peak.max()) <= ceiling:
        return x
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    w = max(1, round(lookahead * rate))
    g = minimum_filter1d(need, size=2 * w + 1, mode="nearest")
    g = uniform_filter1d(g, size=w, mode="nearest")
    return x * np.minimum(g, need)[None]


def normalize_loudness(
    audio: AudioClip, target: float, peak_db: float = -1.0
) -> tuple[AudioClip, float, float]:
    """`audio` at `target` LUFS with peaks under `peak_db` dBFS: gain, limit, measure
    again, and repeat until the measured loudness is within TOLERANCE of the target.
    Mono comes out as stereo, measured as stereo: MP4s are written in stereo, and
    BS.1770 counts both channels of a mono voice played on two speakers (+3 dB).
    Returns the audio, the loudness before and after."""
    import numpy as np

    if audio.channels == 1:
        audio = audio.with_channels(2)
    rate = audio.sample_rate
    x = audio.array.astype(np.float64)
    before = measure_lufs(x, rate)
    if not math.isfinite(before):
        raise NodeInputError("audio", "the audio is silent or shorter than 0.4 s: no loudness")
    ceiling = 10 ** (peak_db / 20)
    now, y = before, x
    for _ in range(8):
        y = limit_peaks(y * 10 ** ((target - now) / 20), rate, ceiling)
        now = measure_lufs(y, rate)
        if abs(now - target) <= TOLERANCE:
            break
    if abs(now - target) > 0.5:
        raise NodeInputError(
            "peak_db",
            f"cannot reach {target} LUFS with peaks under {peak_db} dBFS (got {now:.1f} LUFS)",
        )
    return AudioClip(y.astype(np.float32), rate), before, now


def destination_target(destination: str, target_lufs: float) -> float:
    if destination == "custom":
        return target_lufs
    if destination not in DESTINATIONS:
        raise NodeInputError("destination", f"unknown destination {destination!r}")
    return DESTINATIONS[destination]


@node(
    "music.Loudness",
    category="audio/music",
    outputs={"audio": AUDIO, "before": FLOAT, "after": FLOAT},
)
def loudness(
    audio: Audio,
    destination: Annotated[str, Combo(DESTINATION_NAMES)] = "social",
    target_lufs: Annotated[float, Float(-40.0, -5.0, 0.5)] = -14.0,
    peak_db: Annotated[float, Float(-12.0, 0.0, 0.1)] = -1.0,
) -> Any:
    """Bring audio to the loudness a destination expects: `social` -14 LUFS (TikTok,
    Reels, Shorts, YouTube), `podcast` -16 (podcasts and speech), `broadcast` -23 (EBU
    R128), or `custom` (`target_lufs`). Measured with pyloudnorm (ITU-R BS.1770-4); peaks
    are limited to `peak_db` so the target is met. Mono comes out as stereo, measured
    as such (the encoder keeps it stereo, so the file measures the same). Outputs the loudness before and after."""
    return normalize_loudness(audio, destination_target(destination, target_lufs), peak_db)


@node(
    "music.LoudnessVideo",
    category="audio/music",
    outputs={"video": VIDEO, "before": FLOAT, "after": FLOAT},
)
def loudness_video(
    video: Video,
    destination: Annotated[str, Combo(DESTINATION_NAMES)] = "social",
    target_lufs: Annotated[float, Float(-40.0, -5.0, 0.5)] = -14.0,
    peak_db: Annotated[float, Float(-12.0, 0.0, 0.1)] = -1.0,
) -> Any:
    """music.Loudness for a video's soundtrack (put it last, before the encoder, so the
    file measures what the destination asks for)."""
    if video.audio is None:
        raise NodeInputError("video", "the video has no audio to normalise")
    out, before, after = normalize_loudness(
        video.audio, destination_target(destination, target_lufs), peak_db
    )
    return video.with_audio(out), before, after


def fit_music(
    music: AudioClip,
    seconds: float,
    fit: str,
    fade_in: float,
    fade_out: float,
    seam: float = 0.08,
) -> AudioClip:
    """The track cut to `seconds`: looped with a `seam`-second crossfade at each repeat,
    or played once (`trim`) and followed by silence; then faded in and out."""
    import numpy as np

    rate = music.sample_rate
    src = music.array
    want = max(0, round(seconds * rate))
    n = src.shape[1]
    if n == 0:
        raise NodeInputError("music", "the music track has no samples")
    if fit == "loop" and n < want:
        k = min(round(seam * rate), n // 4)
        body = src[:, : n - k] if k else src
        parts, have = [], 0
        ramp = np.linspace(0.0, 1.0, k, dtype=np.float32) if k else None
        while have < want + k:
            piece = body.copy()
            if parts and k:  # the tail of the last repeat fades into the head of this one
                piece[:, :k] = piece[:, :k] * ramp + src[:, n - k :] * (1 - ramp)
            parts.append(piece)
            have += piece.shape[1]
        out = np.concatenate(parts, axis=1)[:, :want]
    else:
        out = np.zeros((src.shape[0], want), np.float32)
        out[:, : min(n, want)] = src[:, :want]
    out = out.astype(np.float32, copy=True)
    a = min(want, round(fade_in * rate))
    b = min(want, round(fade_out * rate))
    if a:
        out[:, :a] *= np.linspace(0.0, 1.0, a, dtype=np.float32)
    if b:
        out[:, want - b :] *= np.linspace(1.0, 0.0, b, dtype=np.float32)
    return AudioClip(out, rate)


@node("music.Background", category="audio/music", outputs={"video": VIDEO, "audio": AUDIO})
def background(
    video: Video,
    music: Audio,
    volume_db: Annotated[float, Float(-60.0, 6.0, 0.5)] = -16.0,
    duck_db: Annotated[float, Float(-40.0, 0.0, 0.5)] = -10.0,
    threshold_db: Annotated[float, Float(-80.0, 0.0, 1.0)] = -40.0,
    attack: Annotated[float, Float(0.005, 2.0, 0.005)] = 0.08,
    release: Annotated[float, Float(0.01, 5.0, 0.01)] = 0.6,
    fit: Annotated[str, Combo(FITS)] = "loop",
    fade_in: Annotated[float, Float(0.0, 30.0, 0.1)] = 1.0,
    fade_out: Annotated[float, Float(0.0, 30.0, 0.1)] = 2.0,
) -> Any:
    """A music bed under the video's narration: the track at `volume_db`, looped
    (seamless crossfades) or played once and trimmed (`fit`) to the video's length,
    faded in and out, and ducked by `duck_db` while the narration is above
    `threshold_db` (`attack` / `release` seconds). The video's own audio is the voice;
    a video without audio gets the music alone."""
    from .audio import mix

    voice = video.audio or AudioClip.silence(video.duration, music.sample_rate)
    bed = fit_music(music, voice.duration, fit, fade_in, fade_out)
    mixed = mix(
        voice,
        bed,
        music_gain_db=volume_db,
        duck_db=duck_db,
        threshold_db=threshold_db,
        attack=attack,
        release=release,
        fit="pad",
        fade_out=0.0,
    )
    return video.with_audio(mixed), mixed
