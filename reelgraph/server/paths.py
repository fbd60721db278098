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


# --- no symlink followed under the data folder -----------------------------------
# Every file the server writes, reads back, or deletes under its data folder goes through
# these: each folder on the way is opened with O_NOFOLLOW | O_DIRECTORY relative to the one
# before (so a symlink planted anywhere, even after a check, is refused, not followed), and
# the file itself is opened with O_NOFOLLOW relative to its folder.

_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NOFOLLOW = O_NOFOLLOW


def _segments(rel: str) -> list[str]:
    parts = [p for p in rel.split("/") if p]
    for p in parts:
        if p in (".", "..") or "\0" in p:
            raise UnsafePath(f"bad path segment {p!r}")
    return parts


def open_folder(root: Path, rel: str = "", *, create: bool = False) -> int:
    """A descriptor of root/rel, no symlink followed on the way (root itself included).
    `create`: missing folders are made. The caller closes it."""
    fd = _open_dir_at(None, str(root), str(root))
    try:
        for part in _segments(rel):
            if create:
                try:
                    os.mkdir(part, 0o777, dir_fd=fd)
                except FileExistsError:
                    pass
            nxt = _open_dir_at(fd, part, f"{root}/{rel}")
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_dir_at(dir_fd: int | None, name: str, shown: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        raise
    except OSError as exc:
        try:
            st = os.lstat(name, dir_fd=dir_fd) if dir_fd is not None else os.lstat(name)
        except OSError:
            st = None
        if st is not None and stat.S_ISLNK(st.st_mode):
            raise UnsafePath(f"symbolic link in path: {shown} (refused, never followed)") from None
        raise UnsafePath(f"cannot open folder {shown}: {exc.strerror}") from None


def _split(rel: str) -> tuple[str, str]:
    parts = _segments(rel)
    if not parts:
        raise UnsafePath("empty path")
    return "/".join(parts[:-1]), parts[-1]


def _check_not_link(dir_fd: int, name: str, shown: str) -> os.stat_result | None:
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePath(f"symbolic link in path: {shown} (refused, never followed)")
    return st


def write_file(root: Path, rel: str, data: bytes, *, mode: int = 0o666) -> None:
    """Atomically write root/rel (temp file + rename in the same folder), folders made as
    needed; refuses a symlink anywhere on the way or at the name itself."""
    folder, name = _split(rel)
    fd = open_folder(root, folder, create=True)
    tmp = f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        _check_not_link(fd, name, f"{root}/{rel}")
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, mode, dir_fd=fd)
        try:
            with os.fdopen(out, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=fd)
            except OSError:
                pass
            raise
    finally:
        os.close(fd)


def read_file(root: Path, rel: str, *, limit: int | None = None) -> bytes:
    """The bytes of the regular file root/rel, no symlink followed; FileNotFoundError if absent."""
    folder, name = _split(rel)
    fd = open_folder(root, folder)
    try:
        try:
            f = os.open(name, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0), dir_fd=fd)
        except OSError as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            _check_not_link(fd, name, f"{root}/{rel}")
            raise UnsafePath(f"cannot open {rel}: {exc.strerror}") from None
        with os.fdopen(f, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise UnsafePath(f"{rel} is not a regular file")
            return fh.read() if limit is None else fh.read(limit)
    finally:
        os.close(fd)


def remove_file(root: Path, rel: str) -> None:
    """Unlink root/rel (a link itself is never followed: it is what gets removed, if asked)."""
    folder, name = _split(rel)
    fd = open_folder(root, folder)
    try:
        os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)


def check_tree(root: Path, rel: str) -> None:
    """UnsafePath if root/rel, or a folder on the way to it, is a symbolic link."""
    os.close(open_folder(root, rel))
