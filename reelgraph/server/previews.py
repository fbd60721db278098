"""Encoding previews for the WebSocket, and describing output values as JSON.

A preview travels as one binary WebSocket frame per picture:

    uint32 big-endian N | N bytes of UTF-8 JSON header | payload (JPEG or WAV bytes)

The header says what the payload is (see docs/api.md). Encoding happens on the
worker thread that produced the value, never on the event loop.
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import wave
from pathlib import Path
from typing import Any
from urllib.parse import quote

from reelgraph.engine.cache import torch_tensor_class

THUMB_MAX = 256  # longest side of a preview thumbnail, pixels
VIDEO_FRAMES = 4  # frames sampled from a video preview
AUDIO_PREVIEW_S = 10.0


def pack_frame(header: dict[str, Any], payload: bytes) -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack(">I", len(head)) + head + payload


def unpack_frame(data: bytes) -> tuple[dict[str, Any], bytes]:
    (n,) = struct.unpack(">I", data[:4])
    return json.loads(data[4 : 4 + n]), data[4 + n :]


def _jpeg(pixels: Any) -> tuple[bytes, int, int]:
    """uint8 numpy [H,W,3] -> JPEG thumbnail bytes, width, height."""
    from PIL import Image

    img = Image.fromarray(pixels)
    img.thumbnail((THUMB_MAX, THUMB_MAX))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue(), img.width, img.height


def _to_uint8_rgb(frame: Any) -> Any:
    """A torch/numpy frame [H,W,C] (float 0..1 or uint8) -> numpy uint8 [H,W,3].

    A frame much larger than a thumbnail is first decimated to about twice the
    thumbnail size, so a 4K frame costs a thumbnail's work, not a 4K conversion."""
    import numpy as np

    step = (
        max(1, min(int(frame.shape[0]), int(frame.shape[1])) // (2 * THUMB_MAX))
        if len(frame.shape) >= 2
        else 1
    )
    if step > 1:
        frame = frame[::step, ::step]
    tensor_cls = torch_tensor_class()
    if tensor_cls is not None and isinstance(frame, tensor_cls):
        torch = sys.modules["torch"]
        frame = frame.detach().to("cpu")
        if frame.dtype.is_floating_point:
            frame = (frame.clamp(0, 1) * 255 + 0.5).to(torch.uint8)
        frame = frame.numpy()
    arr = np.asarray(frame)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr.astype(np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr[:, :, :3])


def _is_video(value: Any) -> bool:
    return all(hasattr(value, a) for a in ("fps", "frame_count", "chunks"))


def _audio_parts(value: Any) -> tuple[Any, int] | None:
    """(samples [C,N], sample_rate) from the AUDIO duck types we know."""
    if isinstance(value, dict) and "sample_rate" in value:
        samples = value.get("samples", value.get("waveform"))
        return (samples, int(value["sample_rate"])) if samples is not None else None
    rate = getattr(value, "sample_rate", None)
    if rate is None:
        return None
    for attr in ("samples", "waveform", "data", "tensor"):
        samples = getattr(value, attr, None)
        if samples is not None:
            return samples, int(rate)
    return None


def encode_preview(event: dict[str, Any], value: Any, kind: str) -> list[bytes]:
    """Binary frames for one node.preview event (empty if the value is not previewable)."""
    base = {k: v for k, v in event.items() if k not in ("value",)}
    base["type"] = "node.preview"
    tensor_cls = torch_tensor_class()
    if _is_video(value) or kind == "video":
        return _video_frames(base, value)
    batch = None
    pixels = getattr(value, "pixels", None)  # a PixelImage: uint8 [B,H,W,3] for an IMAGE
    if pixels is not None and getattr(pixels, "ndim", 0) == 4 and kind != "audio":
        batch = pixels
    elif (
        tensor_cls is not None
        and isinstance(value, tensor_cls)
        and value.dim() in (3, 4)
        and kind != "audio"
    ):
        batch = value if value.dim() == 4 else value[None]
    if batch is not None:
        frames = []
        shown = min(int(batch.shape[0]), 4)
        for i in range(shown):
            jpeg, w, h = _jpeg(_to_uint8_rgb(batch[i]))
            frames.append(
                pack_frame(
                    {
                        **base,
                        "kind": "image",
                        "mime": "image/jpeg",
                        "index": i,
                        "count": shown,
                        "batch": int(batch.shape[0]),
                        "width": w,
                        "height": h,
                    },
                    jpeg,
                )
            )
        return frames
    if kind == "scenes" and isinstance(value, dict):
        return [_table_frame(base, value)]
    audio = _audio_parts(value)
    if audio is not None:
        return [_wav_frame(base, *audio)]
    return []


# A scene table of a long script stays a small frame: the node shows a summary, not a book.
TABLE_ROWS = 200
TABLE_CELL_CHARS = 160


def _table_frame(base: dict[str, Any], table: dict[str, Any]) -> bytes:
    """A table preview (the scenes a script becomes) as one JSON frame, cells clipped."""

    def clip(v: Any) -> Any:
        if isinstance(v, list):
            return [clip(x) for x in v[:12]]
        if isinstance(v, (int, float, bool)) or v is None:
            return v
        text = str(v)
        return text if len(text) <= TABLE_CELL_CHARS else text[: TABLE_CELL_CHARS - 1] + "…"

    rows = table.get("rows") if isinstance(table.get("rows"), list) else []
    body = {
        "columns": [str(c) for c in table.get("columns", [])][:16],
        "rows": [
            {str(k): clip(v) for k, v in r.items()}
            for r in rows[:TABLE_ROWS]
            if isinstance(r, dict)
        ],
        "total_rows": len(rows),
        "total_seconds": table.get("total_seconds"),
    }
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8", "replace")
    return pack_frame({**base, "kind": "table", "mime": "application/json"}, payload)


def _video_frames(base: dict[str, Any], video: Any) -> list[bytes]:
    """A few frames sampled evenly, as JPEG thumbnails."""
    total = int(getattr(video, "frame_count", 0) or 0)
    if total <= 0:
        return []
    want = sorted({round(i * (total - 1) / max(1, VIDEO_FRAMES - 1)) for i in range(VIDEO_FRAMES)})
    meta = {
        "fps": float(getattr(video, "fps", 0) or 0),
        "frame_count": total,
        "video_width": getattr(video, "width", None),
        "video_height": getattr(video, "height", None),
    }
    picked: list[tuple[int, Any]] = []
    try:
        # VideoStream.chunks(n, start, stop): jump straight to each sampled frame.
        for idx in want:
            chunk = next(iter(video.chunks(1, idx, idx + 1)))
            picked.append((idx, chunk[0]))
    except TypeError:
        picked = []
        pos = 0
        pending = list(want)
        for chunk in video.chunks(16):  # plain chunks(n): stream, stop after the last sample
            n = int(chunk.shape[0])
            while pending and pending[0] < pos + n:
                idx = pending.pop(0)
                picked.append((idx, chunk[idx - pos]))
            pos += n
            if not pending:
                break
    frames = []
    for i, (idx, frame) in enumerate(picked):
        jpeg, w, h = _jpeg(_to_uint8_rgb(frame))
        frames.append(
            pack_frame(
                {
                    **base,
                    **meta,
                    "kind": "video",
                    "mime": "image/jpeg",
                    "index": i,
                    "count": len(picked),
                    "frame": idx,
                    "width": w,
                    "height": h,
                },
                jpeg,
            )
        )
    return frames


def _wav_frame(base: dict[str, Any], samples: Any, rate: int) -> bytes:
    """The first seconds as 16-bit mono WAV."""
    import numpy as np

    tensor_cls = torch_tensor_class()
    if tensor_cls is not None and isinstance(samples, tensor_cls):
        samples = samples.detach().to("cpu").float().numpy()
    arr = np.asarray(samples, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None]
    mono = arr.mean(axis=0)[: int(rate * AUDIO_PREVIEW_S)]
    pcm = (np.clip(mono, -1, 1) * 32767).astype("<i2").tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return pack_frame(
        {
            **base,
            "kind": "audio",
            "mime": "audio/wav",
            "index": 0,
            "count": 1,
            "sample_rate": rate,
            "seconds": arr.shape[-1] / rate,
        },
        buf.getvalue(),
    )


# --- output values as JSON ----------------------------------------------------


def describe(value: Any, roots: dict[str, str], _depth: int = 0) -> Any:
    """A JSON description of an output value: files become links under /api/files.

    `roots` maps a real folder to the name it is served under (e.g. the run's
    staging folder -> "outputs/<run id>", where its files end up)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if os.path.isabs(text):
            real = Path(os.path.realpath(text))
            for folder, served in roots.items():
                try:
                    rel = f"{served}/{real.relative_to(folder).as_posix()}"
                except ValueError:
                    continue
                return {"file": rel, "url": f"/api/files/{quote(rel)}"}
            return {"file": None, "path": text}
        return text if len(text) <= 10000 else text[:10000] + "..."
    tensor_cls = torch_tensor_class()
    if tensor_cls is not None and isinstance(value, tensor_cls):
        return {
            "tensor": {"dtype": str(value.dtype).removeprefix("torch."), "shape": list(value.shape)}
        }
    pixels = getattr(value, "pixels", None)  # a PixelImage: an IMAGE held as uint8
    if pixels is not None and hasattr(pixels, "shape"):
        return {"tensor": {"dtype": str(pixels.dtype), "shape": [int(x) for x in pixels.shape]}}
    if _is_video(value):
        out = {
            k: getattr(value, k, None)
            for k in ("fps", "width", "height", "frame_count", "duration")
        }
        path = getattr(value, "path", None)
        if path:
            out["source"] = describe(path, roots, _depth + 1)
        return {"video": _jsonable(out)}
    if _depth < 3 and isinstance(value, (list, tuple)):
        shown = [describe(v, roots, _depth + 1) for v in value[:100]]
        return shown if len(value) <= 100 else [*shown, {"more": len(value) - 100}]
    if _depth < 3 and isinstance(value, dict):
        return {str(k): describe(v, roots, _depth + 1) for k, v in list(value.items())[:100]}
    audio = _audio_parts(value)
    if audio is not None:
        return {"audio": {"sample_rate": audio[1]}}
    return {"object": type(value).__name__}


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        try:
            json.dumps(v)
            out[k] = v
        except (TypeError, ValueError):
            out[k] = float(v) if isinstance(v, (int, float)) else str(v)
    return out
