"""Bounded-time file fingerprints for loader nodes' cache keys.

A loader's fingerprint says whether the file it reads changed. Reading the whole file
would make planning cost as much as loading (and never end on /dev/zero or a FIFO),
so a fingerprint is the file's size, its mtime in nanoseconds and a hash of its first
and last chunk. Only regular files are read: devices, FIFOs, sockets and directories
are refused without opening anything that could block.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

CHUNK = 1 << 20  # bytes hashed at the head and at the tail


class NotARegularFile(ValueError):
    """The path names a device, FIFO, socket or directory: nothing a loader may read."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def file_fingerprint(
    path: str | os.PathLike[str], *, follow_symlinks: bool = True, chunk: int = CHUNK
) -> str:
    """`size:mtime_ns:hash` of a regular file, reading at most 2 x `chunk` bytes.

    Raises NotARegularFile for devices, FIFOs, sockets and folders, and OSError when the
    file cannot be read. With `follow_symlinks=False` a symbolic link is refused too.
    The file is opened non-blocking and checked again through its descriptor, so one
    swapped for a FIFO between the check and the open is refused, not waited on."""
    p = os.fspath(path)
    st = os.stat(p, follow_symlinks=follow_symlinks)
    if not stat.S_ISREG(st.st_mode):
        raise NotARegularFile(f"{p} is {_kind(st.st_mode)}, not a regular file")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(p, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotARegularFile(f"{p} is {_kind(st.st_mode)}, not a regular file")
        h = hashlib.blake2b(digest_size=16)
        h.update(os.pread(fd, chunk, 0))
        if st.st_size > chunk:
            tail = max(chunk, st.st_size - chunk)
            h.update(os.pread(fd, chunk, tail))
    finally:
        os.close(fd)
    return f"{st.st_size}:{st.st_mtime_ns}:{h.hexdigest()}"


def is_regular_file(path: str | os.PathLike[str]) -> bool:
    """True for a regular file (following links); never opens the path."""
    try:
        return stat.S_ISREG(os.stat(Path(path)).st_mode)
    except (OSError, ValueError):
        return False


__all__ = ["NotARegularFile", "file_fingerprint", "is_regular_file"]
