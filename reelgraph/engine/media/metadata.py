"""Read back the workflow and provenance that reelgraph embeds in the files it writes.

- MP4 (the Encode node): `mdta` metadata, via movflags=use_metadata_tags, with keys
  `reelgraph.workflow` (the workflow JSON), `reelgraph.provenance` (generator,
  version, AI-generated disclosure, node types, models, seeds) and `comment`.
- PNG (image.SavePNG): an iTXt chunk `reelgraph.workflow`.
- WAV (audio.SaveWAV): the workflow JSON as the LIST/INFO ICMT comment.

PNG and WAV are read chunk by chunk with seeks, so a long WAV is not read into memory.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path
from typing import Any, BinaryIO

WORKFLOW_KEY = "reelgraph.workflow"
PROVENANCE_KEY = "reelgraph.provenance"

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_media_metadata(path: str | Path) -> dict[str, Any]:
    """{"workflow": dict | None, "provenance": dict | None, "tags": all container tags}."""
    import av

    with av.open(str(path)) as c:
        tags = dict(c.metadata)

    def parse(key: str) -> Any:
        raw = tags.get(key)
        if not raw:
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return None

    return {"workflow": parse(WORKFLOW_KEY), "provenance": parse(PROVENANCE_KEY), "tags": tags}


def _png_text(f: BinaryIO) -> dict[str, str]:
    if f.read(8) != PNG_SIGNATURE:
        raise ValueError("not a PNG file")
    out: dict[str, str] = {}
    while True:
        head = f.read(8)
        if len(head) < 8:
            break
        length, kind = struct.unpack(">I4s", head)
        if kind == b"IEND":
            break
        if kind not in (b"tEXt", b"iTXt"):
            f.seek(length + 4, io.SEEK_CUR)  # skip the body (pixels) and its CRC
            continue
        body = f.read(length)
        f.seek(4, io.SEEK_CUR)
        key, _, rest = body.partition(b"\x00")
        if kind == b"tEXt":
            out[key.decode("latin-1")] = rest.decode("latin-1")
        else:
            compressed, rest = rest[0], rest[2:]
            _lang, _, rest = rest.partition(b"\x00")
            _tkey, _, value = rest.partition(b"\x00")
            out[key.decode("latin-1")] = (zlib.decompress(value) if compressed else value).decode()
    return out


def read_png_text(data: bytes) -> dict[str, str]:
    """The tEXt/iTXt chunks of a PNG (how a dropped PNG gives back its workflow)."""
    return _png_text(io.BytesIO(data))


def _wav_comment(f: BinaryIO) -> str:
    head = f.read(12)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    while True:
        chunk = f.read(8)
        if len(chunk) < 8:
            return ""
        kind, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if kind == b"LIST":
            body = f.read(size)
            if body[:4] == b"INFO":
                p = 4
                while p + 8 <= len(body):
                    sub, n = body[p : p + 4], struct.unpack("<I", body[p + 4 : p + 8])[0]
                    if sub == b"ICMT":
                        return body[p + 8 : p + 8 + n].rstrip(b"\0").decode()
                    p += 8 + n + (n % 2)
            f.seek(size % 2, io.SEEK_CUR)
        else:
            f.seek(size + (size % 2), io.SEEK_CUR)  # skip the samples without reading them


def read_wav_comment(data: bytes) -> str:
    """The ICMT comment of a WAV written by audio.SaveWAV ('' if none)."""
    return _wav_comment(io.BytesIO(data))


class NotMediaError(ValueError):
    """The file is none of the kinds that can carry a workflow."""


def embedded_workflow_text(path: str | Path) -> str | None:
    """The workflow JSON text a PNG, WAV or video file carries; None if it carries none.

    Raises NotMediaError when the file is not a PNG, a WAV or a container PyAV opens."""
    p = Path(path)
    with p.open("rb") as f:
        head = f.read(12)
        f.seek(0)
        if head.startswith(PNG_SIGNATURE):
            return _png_text(f).get(WORKFLOW_KEY) or None
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            return _wav_comment(f) or None
    try:
        import av

        with av.open(str(p)) as c:
            return c.metadata.get(WORKFLOW_KEY) or None
    except av.error.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise NotMediaError(f"not a PNG, WAV or video file ({reason})") from None
