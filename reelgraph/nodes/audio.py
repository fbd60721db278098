"""Audio nodes: load/save, concat with gaps, mix with ducking, silence, resample and
loudness normalisation (ITU-R BS.1770 style: K-weighting and gating)."""

from __future__ import annotations

import io
import json
import math
import struct
import wave
from pathlib import Path
from typing import Annotated, Any

from reelgraph import (
    AUDIO,
    FLOAT,
    Audio,
    Combo,
    Context,
    FilePath,
    Float,
    Int,
    NodeInputError,
    Text,
    atomic_write,
    list_of,
    node,
)
from reelgraph.media import AudioClip, ScaledAudio, decode_audio
from reelgraph.media import read_wav_comment as read_wav_comment  # re-exported: see png.py

from .video import _check_file, _file_fingerprint, fit_audio


@node(
    "audio.Load",
    category="audio/io",
    outputs={"audio": AUDIO, "duration": FLOAT},
    resource="io",
    fingerprint=_file_fingerprint,
    validate=_check_file,
)
def load(path: Annotated[str, Text(upload="audio")]) -> Any:
    """An audio file: WAV, or anything PyAV decodes (MP3, FLAC, Ogg, M4A, a video's audio)."""
    try:
        a = decode_audio(path)
    except Exception as exc:
        raise NodeInputError("path", f"cannot decode {Path(path).name} as audio: {exc}") from None
    if a is None:
        raise NodeInputError("path", f"{Path(path).name} has no audio stream")
    if a.frames == 0:
        raise NodeInputError("path", f"{Path(path).name} has no audio samples")
    return a, a.duration


def wav_bytes(audio: AudioClip, comment: str = "") -> bytes:
    """16-bit PCM WAV; `comment` goes into a LIST/INFO ICMT chunk (the workflow, for provenance;
    read back by `reelgraph.media.read_wav_comment`)."""
    import numpy as np

    pcm = (np.clip(audio.array, -1, 1).T * 32767.0).round().astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(audio.channels)
        w.setsampwidth(2)
        w.setframerate(audio.sample_rate)
        w.writeframes(np.ascontiguousarray(pcm).tobytes())
    data = buf.getvalue()
    if comment:
        text = comment.encode() + b"\0"
        if len(text) % 2:
            text += b"\0"
        info = b"INFO" + b"ICMT" + struct.pack("<I", len(text)) + text
        chunk = b"LIST" + struct.pack("<I", len(info)) + info
        data = data[:4] + struct.pack("<I", len(data) - 8 + len(chunk)) + data[8:] + chunk
    return data


@node(
    "audio.SaveWAV",
    category="audio/io",
    outputs={"path": FilePath},
    side_effects=True,
    resource="io",
    uses_params=True,  # the file embeds every param value of the run
)
def save_wav(
    audio: Audio, ctx: Context, filename: Annotated[str, Text(placeholder="audio")] = "audio"
) -> Any:
    """Write 16-bit PCM WAV into the output folder, with the workflow in its comment."""
    if not filename or any(ch in filename for ch in "/\\\0") or filename.startswith("."):
        raise NodeInputError("filename", f"{filename!r} is not a plain file name")
    path = ctx.output_path(filename if filename.lower().endswith(".wav") else f"{filename}.wav")
    from .provenance import embedded_workflow

    workflow = embedded_workflow(ctx.workflow, ctx.params)
    atomic_write(path, wav_bytes(audio, json.dumps(workflow) if workflow else ""))
    return str(path)


def _common(clips: list[AudioClip]) -> tuple[int, int]:
    return max(a.sample_rate for a in clips), max(a.channels for a in clips)


@node("audio.Concat", category="audio/edit", outputs={"audio": AUDIO})
def concat(
    clips: list_of(Audio),
    gap: Annotated[float, Float(0.0, 60.0, 0.05)] = 0.0,
) -> Any:
    """Clips one after another with `gap` seconds of silence between them (rates and
    channel counts are unified to the highest)."""
    import numpy as np

    if not clips:
        raise NodeInputError("clips", "no audio to join")
    rate, ch = _common(clips)
    silence = np.zeros((ch, round(gap * rate)), np.float32)
    parts = []
    for i, a in enumerate(clips):
        if i and silence.shape[1]:
            parts.append(silence)
        parts.append(a.resampled(rate).with_channels(ch).array)
    return AudioClip(np.concatenate(parts, axis=1), rate)


@node("audio.Silence", category="audio/source", outputs={"audio": AUDIO})
def silence(
    seconds: Annotated[float, Float(0.0, 86400.0, 0.1)] = 1.0,
    sample_rate: Annotated[int, Int(8000, 192000)] = 48000,
    channels: Annotated[int, Int(1, 8)] = 1,
) -> Any:
    """Silence of a given length."""
    return AudioClip.silence(seconds, sample_rate, channels)


@node("audio.Resample", category="audio/edit", outputs={"audio": AUDIO})
def resample(
    audio: Audio,
    sample_rate: Annotated[int, Int(8000, 192000)] = 48000,
    channels: Annotated[int, Int(0, 8)] = 0,
) -> Any:
    """Change the sample rate (low-passed when going down) and, if `channels` > 0, the
    channel count (mono is duplicated, more channels are averaged)."""
    out = audio.resampled(sample_rate)
    return out.with_channels(channels) if channels else out


def envelope(x: Any, rate: int, window: float = 0.02) -> Any:
    """RMS envelope of mono samples, one value per sample (a box window of `window`
    seconds centred on the sample, shortened at the ends)."""
    import numpy as np

    x = np.asarray(x, np.float64)
    n = max(1, round(window * rate))
    cs = np.concatenate(([0.0], np.cumsum(x * x)))
    i = np.arange(x.shape[0])
    lo = np.clip(i - n // 2, 0, x.shape[0])
    hi = np.clip(i - n // 2 + n, 0, x.shape[0])
    return np.sqrt(np.maximum(cs[hi] - cs[lo], 0.0) / np.maximum(hi - lo, 1)).astype(np.float32)


def smooth_gain(target: Any, rate: int, attack: float, release: float) -> Any:
    """One-pole smoothing of a gain curve, fast going down (attack) and slow coming back
    (release); evaluated on 10 ms steps and interpolated to keep it cheap."""
    import numpy as np

    step = max(1, rate // 100)
    coarse = np.asarray(target)[::step]
    a_att = math.exp(-step / max(1.0, attack * rate))
    a_rel = math.exp(-step / max(1.0, release * rate))
    out = np.empty_like(coarse)
    g = 1.0
    for i, t in enumerate(coarse):
        a = a_att if t < g else a_rel
        g = a * g + (1 - a) * t
        out[i] = g
    xs = np.arange(target.shape[0]) / step
    return np.interp(xs, np.arange(len(out)), out).astype(np.float32)


def db(x: float) -> float:
    return 10 ** (x / 20)


@node("audio.Mix", category="audio/edit", outputs={"audio": AUDIO})
def mix(
    voice: Audio,
    music: Audio,
    music_gain_db: Annotated[float, Float(-60.0, 12.0, 0.5)] = -14.0,
    duck_db: Annotated[float, Float(-60.0, 0.0, 0.5)] = -10.0,
    threshold_db: Annotated[float, Float(-80.0, 0.0, 1.0)] = -40.0,
    attack: Annotated[float, Float(0.005, 2.0, 0.005)] = 0.08,
    release: Annotated[float, Float(0.01, 5.0, 0.01)] = 0.5,
    fit: Annotated[str, Combo(("loop", "pad"))] = "loop",
    fade_out: Annotated[float, Float(0.0, 30.0, 0.1)] = 1.5,
) -> Any:
    """A music bed under a voice: the music (looped or padded to the voice's length, at
    `music_gain_db`) is ducked by `duck_db` while the voice is above `threshold_db`,
    with `attack` / `release` times, and fades out at the end."""
    rate, ch = _common([voice, music])
    v = voice.resampled(rate).with_channels(ch)
    m = fit_audio(music.resampled(rate).with_channels(ch), v.duration, fit, fade_out)
    import numpy as np

    env = envelope(v.array.mean(axis=0), rate)
    talking = (env > db(threshold_db)).astype(np.float32)
    gain = smooth_gain(1 - talking * np.float32(1 - db(duck_db)), rate, attack, release)
    out = v.array + m.array * gain * np.float32(db(music_gain_db))
    peak = float(np.abs(out).max()) if out.size else 0.0
    if peak > 0.999:  # never clip: scale the sum down
        out = out * (0.999 / peak)
    return AudioClip(out, rate)


def _biquad_response(b: tuple[float, ...], a: tuple[float, ...], freqs: Any, rate: int) -> Any:
    import numpy as np

    w = 2 * math.pi * freqs / rate
    z1 = np.exp(-1j * w)
    z2 = z1 * z1
    return (b[0] + b[1] * z1 + b[2] * z2) / (a[0] + a[1] * z1 + a[2] * z2)


def fast_fft_length(n: int) -> int:
    """The smallest length >= n whose only prime factors are 2, 3 and 5."""
    best = 1
    while best < n:
        best *= 2
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def integrated_loudness(audio: AudioClip) -> float:
    """Integrated loudness in LUFS (BS.1770: K-weighting, 400 ms blocks, 75% overlap,
    -70 LUFS absolute and -10 LU relative gates). The K filter is applied by its
    magnitude response in the frequency domain: loudness only needs energy."""
    import numpy as np

    rate = audio.sample_rate
    x = audio.array.astype(np.float64)
    n = x.shape[1]
    if n < round(0.4 * rate):
        return -math.inf
    # BS.1770 stage 1 (high shelf) and stage 2 (high pass), designed for `rate`
    f0, g, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10 ** (g / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf_b = (
        (vh + vb * k / q + k * k) / a0,
        2 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
    )
    shelf_a = (1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0)
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    hp_b = (1.0, -2.0, 1.0)
    hp_a = (1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0)
    # Zero-padded to a length of small prime factors: pocketfft on a length with a
    # large prime factor (most narration lengths) is ~20x slower, 0.12 s for 4 s of
    # speech, and the padding keeps the filter's tail from wrapping onto the start.
    m = fast_fft_length(n)
    spec = np.fft.rfft(x, n=m, axis=1)
    del x
    freqs = np.fft.rfftfreq(m, 1 / rate)
    h = _biquad_response(shelf_b, shelf_a, freqs, rate) * _biquad_response(hp_b, hp_a, freqs, rate)
    spec *= np.abs(h)
    y = np.fft.irfft(spec, n=m, axis=1)[:, :n]
    del spec
    block, hop = round(0.4 * rate), round(0.1 * rate)
    # mean square of each 400 ms block (75% overlap), from running sums of y^2
    cs = np.zeros((y.shape[0], n + 1))
    np.cumsum(y * y, axis=1, out=cs[:, 1:])
    starts = np.arange(0, n - block + 1, hop)
    ms = ((cs[:, starts + block] - cs[:, starts]) / block).sum(axis=0)  # channel weights 1.0
    lk = -0.691 + 10 * np.log10(np.maximum(ms, 1e-12))
    gated = ms[lk > -70]
    if gated.size == 0:
        return -math.inf
    rel = -0.691 + 10 * math.log10(float(gated.mean())) - 10
    gated = ms[(lk > -70) & (lk > rel)]
    return -0.691 + 10 * math.log10(float(gated.mean()))


@node("audio.Normalize", category="audio/edit", outputs={"audio": AUDIO, "loudness": FLOAT})
def normalize(
    audio: Audio,
    target_lufs: Annotated[float, Float(-40.0, -5.0, 0.5)] = -16.0,
    peak_db: Annotated[float, Float(-20.0, 0.0, 0.1)] = -1.0,
) -> Any:
    """Bring the integrated loudness to `target_lufs` (-16 suits web video, -23 broadcast),
    without letting peaks exceed `peak_db`. Also outputs the measured loudness before."""

    measured = integrated_loudness(audio)
    if not math.isfinite(measured):
        raise NodeInputError(
            "audio", "the audio is silent or shorter than 0.4 s: nothing to normalise"
        )
    gain = db(target_lufs - measured)
    peak = float(abs(audio.array).max())
    if peak * gain > db(peak_db):
        gain = db(peak_db) / peak
    # the gain applied as the samples are read: a scene's 16-bit speech stays its codes
    # (the same float32 samples as multiplying a copy)
    return ScaledAudio(audio, gain), measured
