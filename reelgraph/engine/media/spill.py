"""Bytes a value keeps on disk instead of in memory, read back when it is used.

A long script's title cards are drawn in its first seconds and read only when the
encode renders their scenes, minutes later, and each scene's speech waits from when
it is spoken until the encode reads it: on bench/data/long_article.md (11 minutes)
the 40 packed cards were 44 MB, and the speech grew to 30 MB, held through the
narration and the encode. A `SpilledBytes` holds its bytes in a file of this
process's spill folder and reads them back on each use (a card is unpacked from them
anyway, which costs a hundred times the read; audio is read block by block, with
`read_range`); the file goes when the object does. When nothing can be written
there (a full disk, a read-only folder), the bytes stay in memory.

The folder is `REELGRAPH_SPILL_DIR`, else `spill/` in the cache folder (on a disk
where the cache is, not a RAM-backed /tmp); each process has its own folder in it,
removed when the process ends, and folders of processes that are gone are removed by
the next one to start spilling.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import threading
from pathlib import Path

SPILL_DIR_ENV = "REELGRAPH_SPILL_DIR"

_lock = threading.Lock()
_folder: Path | None = None
_broken = False  # the folder could not be made: keep bytes in memory from now on
_names = itertools.count()


def spill_root() -> Path:
    env = os.environ.get(SPILL_DIR_ENV, "").strip()
    if env:
        return Path(env)
    from ..cache import default_cache_dir

    return default_cache_dir() / "spill"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(root: Path) -> None:
    """Folders of processes that ended without removing theirs (killed)."""
    for d in root.iterdir():
        pid = d.name.split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


def _process_folder() -> Path | None:
    global _folder, _broken
    with _lock:
        if _folder is not None and _folder.is_dir():
            return _folder
        if _broken:
            return None
        try:
            root = spill_root()
            root.mkdir(parents=True, exist_ok=True)
            _remove_stale(root)
            folder = root / f"{os.getpid()}-{os.urandom(4).hex()}"
            folder.mkdir(mode=0o700)
        except OSError:
            _broken = True
            return None
        atexit.register(_remove_own, folder, os.getpid())
        _folder = folder
        return folder


def _remove_own(folder: Path, pid: int) -> None:
    # a forked child inherits its parent's exit hooks: only the maker removes a folder
    if os.getpid() == pid:
        shutil.rmtree(folder, ignore_errors=True)


def _forget_folder_after_fork() -> None:
    # a forked child (a worker pool) spills into a folder of its own, not its parent's
    global _folder, _lock
    _folder, _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_folder_after_fork)


class SpilledBytes:
    """Bytes kept in a file of the spill folder (or in memory when it cannot be
    written); `read()` gives them back."""

    __slots__ = ("_data", "_owner", "_path", "size")

    def __init__(self, data: bytes):
        self.size = len(data)
        self._data: bytes | None = None
        self._path: str | None = None
        self._owner = os.getpid()  # a forked child reads the file but leaves it be
        folder = _process_folder()
        if folder is not None:
            path = str(folder / f"{next(_names)}.bin")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                finally:
                    os.close(fd)
                self._path = path
                return
            except OSError:  # a full disk: this one stays in memory
                _unlink(path)
        self._data = bytes(data)

    @property
    def on_disk(self) -> bool:
        return self._path is not None

    def read(self) -> bytes:
        if self._data is not None:
            return self._data
        try:
            with open(self._path, "rb") as f:  # type: ignore[arg-type]
                data = f.read()
        except OSError as exc:
            raise RuntimeError(
                f"spilled image data is gone ({self._path}: {exc.strerror}); "
                f"was {spill_root()} cleaned while this process ran?"
            ) from None
        if len(data) != self.size:
            raise RuntimeError(
                f"spilled image data {self._path} is {len(data)} bytes, not {self.size}"
            )
        return data

    def read_range(self, offset: int, size: int) -> bytes:
        """`size` bytes from `offset` (fewer at the end), without reading the rest."""
        if self._data is not None:
            return self._data[offset : offset + size]
        try:
            fd = os.open(self._path, os.O_RDONLY)  # type: ignore[arg-type]
        except OSError as exc:
            raise self._gone(exc) from None
        try:
            return os.pread(fd, size, offset)
        finally:
            os.close(fd)

    def _gone(self, exc: OSError) -> RuntimeError:
        return RuntimeError(
            f"spilled data is gone ({self._path}: {exc.strerror}); "
            f"was {spill_root()} cleaned while this process ran?"
        )

    def __del__(self) -> None:
        try:
            if self._path is not None and os.getpid() == self._owner:
                os.unlink(self._path)
        except Exception:  # gone already, or the interpreter is shutting down
            pass

    def __reduce__(self) -> tuple:
        # to another process (Ray, a pickle): the bytes themselves, not a local path
        return (SpilledBytes, (self.read(),))


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
