"""Encode a VIDEO to an H.264 + AAC MP4 with PyAV, streamed chunk by chunk.

yuv420p, even dimensions, faststart (moov first, so browsers start playing at
once), CRF and preset; written to a temp file then renamed. The container
metadata carries the workflow JSON and a provenance record; subtitles can go in
as a soft (mov_text) track.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any

from reelgraph import (
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
from reelgraph.media import PROVENANCE_KEY, WORKFLOW_KEY

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
AUDIO_RATE = 48000

_ASS_HEADER = b"""[Script Info]
ScriptType: v4.00+
PlayResX: 384
PlayResY: 288

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Roboto,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
"""


def _fps_fraction(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001)


def _frames_i420(video: Any, W: int, H: int, chunk: int) -> Iterator[Any]:
    """Chunks of I420 frames [t, H*3/2, W], made on a worker thread so that rendering the
    frames (numpy / OpenCV, which release the GIL) overlaps with x264 encoding them."""
    import cv2
    import numpy as np

    q: queue.Queue[Any] = queue.Queue(maxsize=3)
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for block in video.chunks(chunk):
                arr = block.numpy()
                if arr.shape[1] != H or arr.shape[2] != W:
                    arr = np.ascontiguousarray(arr[:, :H, :W])
                out = np.empty((arr.shape[0], H * 3 // 2, W), np.uint8)
                for i, f in enumerate(arr):
                    cv2.cvtColor(f, cv2.COLOR_RGB2YUV_I420, dst=out[i])
                while not stop.is_set():
                    try:
                        q.put(out, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(end)
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(exc)

    worker = threading.Thread(target=produce, name="reelgraph-encode-frames", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def encode_mp4(
    video: Any,
    path: str | Path,
    *,
    crf: int = 20,
    preset: str = "medium",
    audio_bitrate: int = 160,
    metadata: dict[str, str] | None = None,
    cues: list[Any] | None = None,
    chunk: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Stream `video` (and its audio) into an MP4 at `path`, atomically."""
    import av
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.part.mp4")
    W, H = video.width - video.width % 2, video.height - video.height % 2
    if W < 2 or H < 2:
        raise ValueError(f"frame size {video.width}x{video.height} is too small to encode")
    n = video.frame_count
    duration = n / video.fps
    try:
        c = av.open(
            str(tmp), "w", format="mp4", options={"movflags": "+faststart+use_metadata_tags"}
        )
        try:
            for k, v in (metadata or {}).items():
                c.metadata[k] = v
            vs = c.add_stream("libx264", rate=_fps_fraction(video.fps))
            vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
            vs.options = {"crf": str(crf), "preset": preset}
            cc = vs.codec_context
            cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = (
                6,
                6,
                6,
                1,
            )  # smpte170m, tv
            audio = video.audio
            astream = resampler = samples = None
            if audio is not None:
                astream = c.add_stream("aac", rate=AUDIO_RATE)
                astream.layout = "stereo"
                astream.bit_rate = audio_bitrate * 1000
                resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
                a = audio.with_channels(2) if audio.channels != 2 else audio
                want = round(duration * a.sample_rate)
                samples = np.zeros((2, want), np.float32)
                src = a.samples.numpy()[:, :want]
                samples[:, : src.shape[1]] = src
            sstream = None
            if cues:
                sstream = c.add_stream("mov_text")
                sstream.codec_context.subtitle_header = _ASS_HEADER
                sstream.codec_context.time_base = Fraction(1, 1000)
                sstream.time_base = Fraction(1, 1000)
            audio_done = 0

            def feed_audio(until_s: float) -> None:
                nonlocal audio_done
                if samples is None:
                    return
                end = min(samples.shape[1], round(until_s * audio.sample_rate))
                step = 4096
                while audio_done < end:
                    b = min(end, audio_done + step)
                    fr = av.AudioFrame.from_ndarray(
                        np.ascontiguousarray(samples[:, audio_done:b]),
                        format="fltp",
                        layout="stereo",
                    )
                    fr.sample_rate = audio.sample_rate
                    fr.pts = audio_done
                    fr.time_base = Fraction(1, audio.sample_rate)
                    for rf in resampler.resample(fr):
                        c.mux(astream.encode(rf))
                    audio_done = b

            done = 0
            for yuv in _frames_i420(video, W, H, chunk):
                for f in yuv:
                    frame = av.VideoFrame.from_ndarray(f, format="yuv420p")
                    # cv2's I420 is BT.601, limited range: say so, or players guess BT.709 for HD
                    frame.colorspace, frame.color_range = 6, 1
                    frame.pts = done
                    c.mux(vs.encode(frame))
                    done += 1
                feed_audio(done / video.fps)
                if progress is not None:
                    progress(done, n)
            if done != n:
                raise RuntimeError(f"the video promised {n} frames but gave {done}")
            c.mux(vs.encode(None))
            if samples is not None:
                feed_audio(duration)
                for rf in resampler.resample(None):
                    c.mux(astream.encode(rf))
                c.mux(astream.encode(None))
            if sstream is not None:
                from av.subtitles.subtitle import SubtitleSet

                for i, cue in enumerate(cues):
                    a_ms, b_ms = round(cue.start * 1000), round(min(cue.end, duration) * 1000)
                    if b_ms <= a_ms:
                        continue
                    text = cue.text.replace("\n", "\\N")
                    sub = SubtitleSet.create(
                        f"{i},0,Default,,0,0,0,,{text}".encode(), 0, b_ms - a_ms, pts=a_ms * 1000
                    )
                    pk = sstream.codec_context.encode_subtitle(sub)
                    pk.stream = sstream
                    pk.pts = pk.dts = a_ms
                    pk.duration = b_ms - a_ms
                    pk.time_base = Fraction(1, 1000)
                    c.mux(pk)
        finally:
            c.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _check_name(values: dict[str, Any]) -> list[tuple[str, str]]:
    name = str(values.get("filename", ""))
    if not name or any(ch in name for ch in "/\\\0") or name.startswith("."):
        return [("filename", f"{name!r} is not a plain file name")]
    return []


@node(
    "video.Encode",
    category="video/output",
    outputs={"path": FilePath},
    side_effects=True,
    validate=_check_name,
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
    slower presets compress better. Linked `subtitles` become a soft subtitle track.
    The file carries the workflow and a provenance record (generator, AI-generated
    disclosure, node types, models, seeds) in its metadata."""
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
    encode_mp4(
        video,
        path,
        crf=crf,
        preset=preset,
        audio_bitrate=audio_bitrate,
        metadata=meta,
        cues=list(subtitles) if subtitles else None,
        progress=ctx.progress,
    )
    return str(path)
