"""Small media files the server tests post and sniff."""

from __future__ import annotations

import io
import wave


def wav_bytes(frames: int = 800) -> bytes:
    """A tiny silent mono WAV."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * frames)
    return buf.getvalue()
