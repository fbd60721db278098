"""A small PNG writer with text chunks, so saved images carry their workflow
(read back by `reelgraph.media.read_png_text`)."""

from __future__ import annotations

import struct
import zlib
from typing import Any


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode_png(pixels: Any, text: dict[str, str] | None = None, level: int = 6) -> bytes:
    """uint8 numpy [H,W,C] (C = 1, 3 or 4) -> PNG bytes; `text` goes into iTXt chunks (UTF-8)."""
    import numpy as np

    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected uint8 [H,W,1|3|4], got {pixels.dtype} {tuple(pixels.shape)}")
    h, w, c = pixels.shape
    color_type = {1: 0, 3: 2, 4: 6}[c]
    rows = np.concatenate([np.zeros((h, 1), np.uint8), pixels.reshape(h, w * c)], axis=1)
    out = [
        b"\x89PNG\r\n\x1a\n",
        _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)),
    ]
    for key, value in (text or {}).items():
        out.append(
            _chunk(b"iTXt", key.encode("latin-1") + b"\x00\x00\x00\x00\x00" + value.encode())
        )
    out.append(_chunk(b"IDAT", zlib.compress(rows.tobytes(), level)))
    out.append(_chunk(b"IEND", b""))
    return b"".join(out)
