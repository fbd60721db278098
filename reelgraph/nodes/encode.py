"""Encode a VIDEO to an H.264 + AAC MP4 with PyAV, streamed chunk by chunk.

yuv420p, even dimensions, faststart (moov first, so browsers start playing at
once), CRF and preset; written to a temp file then renamed. The container
metadata carries the workflow JSON and a provenance record; subtitles can go in
as a soft (mov_text) track. The pictures are encoded in closed-GOP segments kept
in the value cache by content key (reelgraph.engine.media.encoder), so a render
that shares scenes with an earlier one copies their packets instead of rendering
and encoding them again.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from reelgraph import (
    INT,
    Bool,
    Combo,
    Context,
    FilePath,
    Int,
    NodeInputError,
    Subtitles,
    Text,
    Video,
    node,
)
from reelgraph.media import PROVENANCE_KEY, WORKFLOW_KEY, SegmentStore, encode_mp4, encode_video

from .provenance import embedded_workflow, provenance_record

PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)


def check_file_name(values: dict[str, Any]) -> list[tuple[str, str]]:
    """A typed `filename` must be a plain name in the output folder. A linked one is not
    among the values at validation; `ctx.output_path` refuses a bad one when it runs."""
    if "filename" not in values:
        return []
    name = str(values["filename"])
    if not name or any(ch in name for ch in "/\\\0") or name.startswith("."):
        return [("filename", f"{name!r} is not a plain file name")]
    return []


@node(
    "video.Encode",
    category="video/output",
    outputs={"path": FilePath, "encoded_frames": INT, "reused_frames": INT},
    side_effects=True,
    validate=check_file_name,
    uses_params=True,  # the file embeds every param value of the run
)
def encode(
    video: Video,
    ctx: Context,
    subtitles: Subtitles = None,
    filename: Annotated[str, Text(placeholder="video")] = "video",
    crf: Annotated[int, Int(0, 51)] = 20,
    preset: Annotated[str, Combo(PRESETS)] = "veryfast",
    audio_bitrate: Annotated[int, Int(32, 512, 16)] = 160,
    embed_workflow: Annotated[bool, Bool()] = True,
) -> Any:
    """Write an H.264 + AAC MP4 (yuv420p, even size, faststart) into the output folder,
    streaming frames as they are made. Lower `crf` = better quality and bigger files;
    slower presets compress better. `audio_bitrate` is for stereo sound; mono
    narration gets half. Linked `subtitles` become a soft subtitle track.
    The file carries the workflow and a provenance record (generator, AI-generated
    disclosure, node types, models, seeds) in its metadata. Segments of the picture
    that an earlier render already encoded are re-used: `encoded_frames` counts the
    frames rendered and encoded by this run, `reused_frames` those copied."""
    if video.frame_count <= 0:
        raise NodeInputError("video", "the video has no frames")
    name = filename if filename.lower().endswith(".mp4") else f"{filename}.mp4"
    path = ctx.output_path(name)
    workflow = embedded_workflow(ctx.workflow, ctx.params)
    prov = provenance_record(workflow, ctx.params)
    meta = {
        "comment": f"AI-generated with reelgraph {prov['version']}",
        PROVENANCE_KEY: json.dumps(prov, sort_keys=True),
    }
    if workflow:
        meta["title"] = str(workflow.get("name", ""))
        if embed_workflow:
            meta[WORKFLOW_KEY] = json.dumps(workflow, ensure_ascii=False)
    stats = encode_video(
        video,
        path,
        crf=crf,
        preset=preset,
        audio_bitrate=audio_bitrate,
        metadata=meta,
        cues=list(subtitles) if subtitles else None,
        progress=ctx.progress,
        store=SegmentStore(ctx.cache) if ctx.cache is not None else None,
        run_segments=ctx.segment_runner,
    )
    return str(path), stats.encoded_frames, stats.reused_frames


__all__ = ["PRESETS", "encode", "encode_mp4", "encode_video"]
