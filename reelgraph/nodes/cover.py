"""Cover images: a thumbnail for each video, a chosen or the best frame with its title.

Platforms show the cover before anyone presses play, so it should be a sharp,
well-lit frame, not whatever frame 0 happens to be (often a fade from black).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from reelgraph import (
    Bool,
    Context,
    FilePath,
    Float,
    Int,
    NodeInputError,
    Text,
    Video,
    atomic_write,
    node,
)
from reelgraph.media import PROVENANCE_KEY, WORKFLOW_KEY

from .encode import check_file_name
from .png import encode_png
from .provenance import embedded_workflow, provenance_record

# Frames looked at when picking the best one: enough to find a good frame in a
# multi-scene video, few enough that a cover costs well under a second.
CANDIDATES = 24


def frame_score(frame: Any) -> float:
    """How good a frame is as a cover: detail (mean gradient) times contrast, with
    dark or flat frames (fades, blank cards) scored near zero."""
    import numpy as np

    small = np.asarray(frame)[::4, ::4].astype(np.float32)
    luma = small @ np.array([0.299, 0.587, 0.114], np.float32)
    detail = np.abs(np.diff(luma, axis=0)).mean() + np.abs(np.diff(luma, axis=1)).mean()
    contrast = float(luma.std())
    brightness = float(luma.mean())
    lit = min(1.0, brightness / 60.0) * min(1.0, (255.0 - brightness) / 60.0)
    return float(detail) * contrast * lit


def candidate_frames(frame_count: int, n: int = CANDIDATES) -> list[int]:
    """Evenly spread frame indices, skipping the first and last 5% (fades, end cards)."""
    if frame_count <= 2:
        return list(range(frame_count))
    lo, hi = int(frame_count * 0.05), max(int(frame_count * 0.95), 1)
    step = max(1, (hi - lo) // n)
    return list(range(lo, hi, step))[:n] or [0]


def pick_frame(video: Any, at_seconds: float) -> int:
    """The frame index for `at_seconds`, or the best-scoring candidate when it is < 0."""
    if at_seconds >= 0:
        index = round(at_seconds * video.fps)
        if index >= video.frame_count:
            raise NodeInputError(
                "at_seconds",
                f"{at_seconds:g} s is past the end of the video ({video.duration:.2f} s)",
            )
        return index
    scores = [(frame_score(video.frame_array(i)), -i) for i in candidate_frames(video.frame_count)]
    return -max(scores)[1]


def draw_title(frame: Any, title: str) -> Any:
    """The title in bold white over a dark scrim on the lower part of the frame, sized
    to the frame's width so portrait and landscape covers both read at a glance."""
    import numpy as np

    from .typography import alpha_blit, fit_font, render_text_rgba

    out = np.ascontiguousarray(np.asarray(frame), dtype=np.uint8).copy()
    h, w = out.shape[:2]
    margin = int(w * 0.08)
    size = max(12, int(min(w, h) * 0.09))
    font, lines = fit_font(title, "bold", size, w - 2 * margin, max_lines=3)
    text = render_text_rgba(lines, font, (255, 255, 255), shadow=max(2, size // 12))
    th, tw = text.shape[:2]
    top = max(0, int(h * 0.92) - th)
    # A vertical ramp from clear to 65% black behind the text keeps it readable on any frame.
    ramp_top = max(0, top - th // 2)
    ramp = np.linspace(0.0, 0.65, h - ramp_top, dtype=np.float32)[:, None, None]
    region = out[ramp_top:].astype(np.float32)
    out[ramp_top:] = (region * (1.0 - ramp)).round().astype(np.uint8)
    alpha_blit(out[None], text, (w - tw) // 2, top)
    return out


@node(
    "video.Cover",
    category="video/output",
    outputs={"path": FilePath},
    side_effects=True,
    validate=check_file_name,
    uses_params=True,  # the PNG embeds every param value of the run
)
def cover(
    video: Video,
    ctx: Context,
    title: Annotated[str, Text(multiline=True)] = "",
    at_seconds: Annotated[float, Float(-1.0, 86400.0, 0.1)] = -1.0,
    max_width: Annotated[int, Int(0, 4096, 2)] = 0,
    filename: Annotated[str, Text(placeholder="video")] = "video",
    embed_workflow: Annotated[bool, Bool()] = True,
) -> Any:
    """Write a cover image (PNG) for a video: the frame at `at_seconds`, or with -1 the
    sharpest, best-lit of a spread of frames, with the title drawn on it. Give it the
    same `filename` as the encode node so `video.png` sits next to `video.mp4`.
    `max_width` > 0 scales the cover down (keeping its aspect). The PNG carries the
    workflow, so dropping it on the editor reopens the graph that made it."""
    import numpy as np

    if video.frame_count <= 0:
        raise NodeInputError("video", "the video has no frames")
    frame = video.frame_array(pick_frame(video, at_seconds))
    if title.strip():
        frame = draw_title(frame, title.strip())
    if max_width and frame.shape[1] > max_width:
        from PIL import Image as PILImage

        h = max(2, round(frame.shape[0] * max_width / frame.shape[1]))
        frame = np.asarray(PILImage.fromarray(frame).resize((max_width, h), PILImage.LANCZOS))
    workflow = embedded_workflow(ctx.workflow, ctx.params)
    text = {PROVENANCE_KEY: json.dumps(provenance_record(workflow, ctx.params), sort_keys=True)}
    if workflow and embed_workflow:
        text[WORKFLOW_KEY] = json.dumps(workflow, ensure_ascii=False)
    name = filename if filename.lower().endswith(".png") else f"{filename}.png"
    path = ctx.output_path(name)
    atomic_write(path, encode_png(np.ascontiguousarray(frame), text))
    return str(path)
