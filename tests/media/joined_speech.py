"""Tracks like the explainer's narration for audio tests: speech-like scenes with
silent padding, joined and faded as Concat and Fade make them, under a cheap video."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from reelgraph.engine.media.audio import FadedAudio, JoinedAudio, Pcm16Audio
from reelgraph.engine.media.video import ProceduralVideo

RATE = 22050
FPS = 10.0
FRAME = 2205  # samples a video frame: scenes are whole frames long, as the pipeline makes them


def spoken(seconds: float, seed: int, pause: float = 0.25) -> Pcm16Audio:
    """Speech-like sound: tones under a syllable-rate envelope, then `pause` seconds of
    exact silence (a narration's padding), up to a whole number of video frames."""
    g = np.random.default_rng(seed)
    t = np.arange(round(seconds * RATE)) / RATE
    tone = sum(
        g.uniform(0.05, 0.2) * np.sin(2 * np.pi * g.uniform(120, 3000) * t) for _ in range(6)
    )
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * g.uniform(3, 6) * t) ** 2
    x = np.concatenate([tone * envelope, np.zeros(round(pause * RATE))])
    x = np.pad(x, (0, -x.size % FRAME)) if pause else x[: x.size - x.size % FRAME]
    return Pcm16Audio.quantized(x[None, :].astype(np.float32), RATE)


def track(head: Pcm16Audio, *rest: Pcm16Audio) -> FadedAudio:
    """Scenes joined end to end and faded, as the explainer's Concat and Fade make it."""
    clips = [head, *rest]
    return FadedAudio(JoinedAudio(clips, [c.frames for c in clips]), 441, 6615)


def video_with(audio: FadedAudio) -> ProceduralVideo:
    frames = audio.frames // FRAME

    def render(a: int, b: int) -> np.ndarray:
        out = np.zeros((b - a, 48, 64, 3), np.uint8)
        out[..., 0] = (np.arange(a, b) * 7 % 255)[:, None, None]
        return out

    return ProceduralVideo(
        render, fps=FPS, width=64, height=48, frame_count=frames, audio=audio, key=b"steps"
    )


def decoded_audio(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)[0]


def audio_packets(path: Path) -> list[tuple[int, bytes]]:
    with av.open(str(path)) as c:
        return [(int(p.pts), bytes(p)) for p in c.demux(audio=0) if p.size]


def snr_db(decoded: np.ndarray, source: np.ndarray) -> float:
    n = min(decoded.size, source.size)
    err = decoded[:n] - source[:n]
    return float(10 * np.log10(np.sum(source[:n] ** 2) / np.sum(err**2)))
