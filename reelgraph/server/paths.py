"""Turning names from requests into paths, and refusing every way out of a folder.

Everything a client names (a file under outputs/ or uploads/, a workflow, a web
asset) goes through `safe_join`: the name is checked as text first (NUL bytes,
backslashes, drive letters, absolute paths, `.`/`..` segments, hidden files),
then resolved on disk, which must stay inside the root with no symlink on the way.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path


class UnsafePath(ValueError):
    """A requested name that could leave its folder, or is otherwise not servable."""


_DRIVE = re.compile(r"^[A-Za-z]:")


def check_relative(name: str) -> list[str]:
    """The segments of a client-supplied relative path, or UnsafePath saying why not."""
    if not name:
        raise UnsafePath("empty path")
    if "\0" in name:
        raise UnsafePath("NUL byte in path")
    if "\\" in name:
        raise UnsafePath("backslash in path")
    if _DRIVE.match(name) or name.startswith("/"):
        raise UnsafePath("absolute path")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise UnsafePath("control character in path")
    parts = name.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise UnsafePath("empty, '.' or '..' segment in path")
        if part.startswith("."):
            raise UnsafePath("hidden file")
        if "%" in part and re.search(r"%(2e|2f|5c|00)", part, re.IGNORECASE):
            # A doubly-encoded separator or dot: never a real file name here.
            raise UnsafePath("encoded separator in path")
    return parts


def safe_join(root: Path, name: str) -> Path:
    """`root/name` if it is a regular file or folder inside root reached without symlinks."""
    parts = check_relative(name)
    base = Path(os.path.realpath(root))
    current = base
    for part in parts:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            raise FileNotFoundError(name) from None
        except OSError as exc:
            raise UnsafePath(f"cannot stat: {exc.strerror}") from None
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePath("symbolic link in path")
    real = Path(os.path.realpath(current))
    if real != base and base not in real.parents:
        raise UnsafePath("path leaves its folder")
    return real
