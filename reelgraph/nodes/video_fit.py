"""Fitting a short clip to a longer duration (its narration): stretch, hold, loop, pingpong.

Generated clips last a few seconds at most; a scene lasts as long as its voice-over. The
type id was `diffusion.FitClip` until the generative pack was split; documents that name
the old id load as `video.FitClip` (a type rename in the workflow migration)."""

from __future__ import annotations

from typing import Annotated, Any

from reelgraph import VIDEO, Audio, Combo, Float, NodeInputError, Video, node

from .video import fit_audio

FIT_MODES = ("slow", "hold", "loop", "pingpong")


def fit_indices(count: int, total: int, mode: str) -> list[int]:
    """Which source frame each of `total` output frames shows, for a clip of `count` frames."""
    if count <= 0 or total <= 0:
        return []
    if mode == "slow":  # stretch evenly over the duration
        return [min(count - 1, j * count // total) for j in range(total)]
    if mode == "hold":  # play once, then hold the last frame
        return [min(j, count - 1) for j in range(total)]
    if mode == "loop":
        return [j % count for j in range(total)]
    period = max(1, 2 * count - 2)  # pingpong: 0 1 2 1 0 1 2 ...
    return [(j % period) if (j % period) < count else period - (j % period) for j in range(total)]


@node("video.FitClip", category="video/edit", outputs={"video": VIDEO})
def fit_clip(
    video: Video,
    audio: Audio = None,
    seconds: Annotated[float, Float(0.0, 3600.0, 0.1)] = 0.0,
    tail: Annotated[float, Float(0.0, 10.0, 0.05)] = 0.4,
    mode: Annotated[str, Combo(FIT_MODES)] = "slow",
) -> Any:
    """Make a generated clip (a few seconds at most) as long as its narration: `audio`'s
    duration plus `tail`, or `seconds`. `slow` stretches it, `hold` freezes the last frame,
    `loop` and `pingpong` repeat it. The audio becomes the clip's sound track. Streamed:
    frames are taken from the clip as they are needed."""
    import torch

    from reelgraph.media import ProceduralVideo

    length = (audio.duration + tail) if audio is not None else seconds
    if length <= 0:
        raise NodeInputError("seconds", "give an audio to follow or a length in seconds")
    total = max(1, round(length * video.fps))
    idx = fit_indices(video.frame_count, total, mode)
    if not idx:
        raise NodeInputError("video", "the clip has no frames")

    def render(start: int, stop: int) -> Any:
        wanted = idx[start:stop]
        if not wanted:
            return torch.zeros(0, video.height, video.width, 3, dtype=torch.uint8)
        lo, hi = min(wanted), max(wanted) + 1
        frames = video.render(lo, hi)
        return frames[torch.tensor([i - lo for i in wanted])].contiguous()

    out = ProceduralVideo(
        render, fps=video.fps, width=video.width, height=video.height, frame_count=total
    )
    if audio is not None:
        out = out.with_audio(fit_audio(audio, total / video.fps))
    return out
