"""Recognising uploaded media from its first bytes (the file name is never trusted)."""

from __future__ import annotations

# (kind, mime, extension) per recognised format
Sniffed = tuple[str, str, str]


def sniff(head: bytes) -> Sniffed | None:
    """What the file is, from its first 64 bytes; None for anything not image/audio/video."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "image/png", ".png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "image/jpeg", ".jpg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "image/gif", ".gif"
    if head.startswith(b"BM") and len(head) >= 26 and head[6:10] == b"\0\0\0\0":
        return "image", "image/bmp", ".bmp"
    if head[:4] == b"RIFF" and len(head) >= 12:
        form = head[8:12]
        if form == b"WEBP":
            return "image", "image/webp", ".webp"
        if form == b"WAVE":
            return "audio", "audio/wav", ".wav"
        if form == b"AVI ":
            return "video", "video/x-msvideo", ".avi"
        return None
    if head.startswith(b"fLaC"):
        return "audio", "audio/flac", ".flac"
    if head.startswith(b"OggS"):
        return "audio", "audio/ogg", ".ogg"
    if head.startswith(b"ID3") or _mpeg_audio_frame(head):
        return "audio", "audio/mpeg", ".mp3"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B ", b"M4P "):
            return "audio", "audio/mp4", ".m4a"
        if brand == b"qt  ":
            return "video", "video/quicktime", ".mov"
        if brand in (b"avif", b"avis"):
            return "image", "image/avif", ".avif"
        if brand in (b"heic", b"heix", b"mif1"):
            return None  # HEIF stills: not decodable by the bundled loaders
        return "video", "video/mp4", ".mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return (
            ("video", "video/webm", ".webm")
            if b"webm" in head[:64]
            else ("video", "video/x-matroska", ".mkv")
        )
    return None


def _mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG audio frame header: sync bits, and no reserved version, layer, bitrate or rate."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3


MIME_BY_EXT = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".avif": "image/avif",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".m4a": "audio/mp4",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
    ".json": "application/json",
    ".srt": "text/plain; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}


def mime_for(name: str) -> str:
    dot = name.rfind(".")
    return (
        MIME_BY_EXT.get(name[dot:].lower(), "application/octet-stream")
        if dot >= 0
        else "application/octet-stream"
    )
