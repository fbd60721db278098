"""The value cache: a memory LRU bounded in bytes over an optional disk tier.

Keys are the Merkle keys from graph.py. An entry is a node's outputs
(`Result`). The memory tier measures what it holds (tensor bytes, not entry
counts). The disk tier stores content-addressed msgpack files written
atomically by a background thread, so a node never waits for the disk; a
restarted process or another worker reuses them. A corrupt or truncated file
is a miss and is deleted, never a crash.

A mapped node's list result is stored as a list of its elements' keys, each
element once in its own entry: a batch of variants that share four scenes of five
keeps those four cards on disk once, not once per variant's list.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .serialize import NotSerializable, packb, unpackb

MAGIC = b"RGC1"
DIGEST = 16


@dataclass(slots=True)
class Result:
    """A node's outputs. `item_keys[i]` holds per-element keys when output i is a list
    produced by mapping, so each element is reused on its own downstream."""

    values: tuple[Any, ...]
    item_keys: tuple[tuple[str, ...] | None, ...] | None = None


def torch_tensor_class() -> type | None:
    """torch.Tensor if torch is imported, without importing it. Another thread may be in
    the middle of importing torch: then the class is not there yet, and no tensor exists."""
    torch = sys.modules.get("torch")
    return getattr(torch, "Tensor", None) if torch is not None else None


def sizeof(value: Any, _depth: int = 0) -> int:
    """Bytes a value holds, counting tensor and array storage."""
    tensor_cls = torch_tensor_class()
    if tensor_cls is not None and isinstance(value, tensor_cls):
        return value.element_size() * value.nelement() + 64
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes + 64
    if isinstance(value, (str, bytes, bytearray)):
        return len(value) + 49
    if isinstance(value, (list, tuple)) and _depth < 4:
        return 56 + sum(sizeof(v, _depth + 1) for v in value)
    if isinstance(value, dict) and _depth < 4:
        return 64 + sum(sizeof(k, _depth + 1) + sizeof(v, _depth + 1) for k, v in value.items())
    if isinstance(value, Result):
        return sizeof(value.values, _depth)
    return 64


def default_memory_budget() -> int:
    """An eighth of the RAM available at start, between 128 MiB and 1 GiB: the memory
    tier is for small, hot results (scene records, timings, lazy video streams); big
    tensors live on disk, and a render that streams should not grow with its length."""
    try:
        import psutil

        available = psutil.virtual_memory().available
    except Exception:
        available = 4 << 30
    return int(min(max(available // 8, 128 << 20), 1 << 30))


LARGE_ENTRY = 1 << 20
# results of nodes that took less than this stay in memory only (cheap to redo)
DISK_MIN_SECONDS = 0.05


class MemoryCache:
    """LRU bounded in bytes. Thread-safe.

    Entries over `LARGE_ENTRY` bytes (cards, a scene's speech, encoded segments) share
    `max_large_bytes`, a quarter of the budget by default, LRU among themselves: a long
    render that streams through hundreds of them keeps the last few, not as many as fit
    in the whole budget, and they never push out the small, hot results (scene records,
    timings, lazy streams) that every later node reads."""

    def __init__(self, max_bytes: int | None = None, max_large_bytes: int | None = None):
        self.max_bytes = default_memory_budget() if max_bytes is None else max_bytes
        self.max_large_bytes = self.max_bytes // 4 if max_large_bytes is None else max_large_bytes
        self._entries: OrderedDict[str, tuple[Result, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.large_bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def get(self, key: str) -> Result | None:
        with self._lock:
            item = self._entries.get(key)
            if item is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: str, result: Result, nbytes: int | None = None) -> None:
        size = sizeof(result) if nbytes is None else nbytes
        if size > self.max_bytes or (size > LARGE_ENTRY and size > self.max_large_bytes):
            return  # larger than its whole budget: keeping it would evict everything
        with self._lock:
            self._drop(key)
            self._entries[key] = (result, size)
            self.bytes += size
            if size > LARGE_ENTRY:
                self.large_bytes += size
                if self.large_bytes > self.max_large_bytes:
                    for old in [k for k, (_, n) in self._entries.items() if n > LARGE_ENTRY]:
                        if self.large_bytes <= self.max_large_bytes:
                            break
                        self._drop(old)
                        self.evictions += 1
            while self.bytes > self.max_bytes and self._entries:
                self._drop(next(iter(self._entries)))
                self.evictions += 1

    def _drop(self, key: str) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
            if old[1] > LARGE_ENTRY:
                self.large_bytes -= old[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = self.large_bytes = 0

    def stats(self) -> dict[str, Any]:
        return {
            "entries": len(self._entries),
            "bytes": self.bytes,
            "max_bytes": self.max_bytes,
            "large_bytes": self.large_bytes,
            "max_large_bytes": self.max_large_bytes,
            "hits": self.hits,
            "misses": self.misses,
            "evictions": self.evictions,
        }


def _serializable(result: Result) -> bool:
    """Whether the disk tier can store it (lazy streams and handles cannot): checked by
    the values' kinds, without serialising them."""
    from .serialize import can_pack

    return can_pack(result.values)


def default_cache_dir() -> Path:
    env = os.environ.get("REELGRAPH_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reelgraph"


class DiskCache:
    """Content-addressed files `<dir>/<k[:2]>/<k>.rgc`: magic, blake2b digest, msgpack payload."""

    def __init__(self, folder: Path, max_bytes: int = 20 << 30):
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self.corrupt = 0
        self.write_errors = 0
        self._pending: queue.Queue[tuple[str, Result] | None] = queue.Queue(maxsize=64)
        # Queued but not yet on disk: a lookup meanwhile must not miss (the memory tier
        # may not hold what went to disk).
        self._inflight: dict[str, Result] = {}
        self._writer: threading.Thread | None = None
        self._lock = threading.Lock()
        self._written_since_trim = 0

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.rgc"

    def get(self, key: str) -> Result | None:
        queued = self._inflight.get(key)
        if queued is not None:
            self.hits += 1
            return queued
        p = self.path(key)
        try:
            data = p.read_bytes()
        except OSError:
            self.misses += 1
            return None
        try:
            if data[:4] != MAGIC:
                raise ValueError("bad magic")
            digest, payload = data[4 : 4 + DIGEST], data[4 + DIGEST :]
            if hashlib.blake2b(payload, digest_size=DIGEST).digest() != digest:
                raise ValueError("checksum mismatch")
            decoded = unpackb(payload)
            if len(decoded) == 3 and decoded[0] is None:
                result = self._gather(decoded[1], decoded[2])
                if result is None:  # an element was trimmed: recompute the list
                    self.misses += 1
                    p.unlink(missing_ok=True)
                    return None
            else:
                values, item_keys = decoded
                result = Result(tuple(values), tuple(item_keys) if item_keys is not None else None)
        except Exception:
            # Truncated, corrupt or from an incompatible writer: drop it and recompute.
            self.corrupt += 1
            self.misses += 1
            try:
                p.unlink()
            except OSError:
                pass
            return None
        self.hits += 1
        try:
            os.utime(p)  # recently used: last to be trimmed
        except OSError:
            pass
        return result

    def put(self, key: str, result: Result) -> None:
        """Queue a write; the background writer serialises and renames into place."""
        with self._lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_loop, name="reelgraph-disk-cache", daemon=True
                )
                self._writer.start()
        self._inflight[key] = result
        self._pending.put((key, result))

    @staticmethod
    def _element_keys(result: Result) -> list[str] | None:
        """The element keys of a mapped result (item key `<element>/<output>` for every
        output), or None when it is not one."""
        keys = result.item_keys
        if not keys or any(k is None for k in keys) or not result.values:
            return None
        first = keys[0]
        assert first is not None
        out = []
        for i, k0 in enumerate(first):
            element, _, j = k0.rpartition("/")
            if j != "0" or not element:
                return None
            for o, ko in enumerate(keys):
                assert ko is not None
                if len(ko) != len(first) or ko[i] != f"{element}/{o}":
                    return None
            out.append(element)
        if any(not isinstance(v, list) or len(v) != len(out) for v in result.values):
            return None
        return out

    def _gather(self, item_keys: list[Any], elements: list[str]) -> Result | None:
        """A list result from its elements' entries (None if one is gone)."""
        per_item = []
        for e in elements:
            hit = self.get(e)
            if hit is None:
                return None
            per_item.append(hit.values)
        n_out = len(item_keys)
        values = tuple([item[j] for item in per_item] for j in range(n_out))
        self.hits -= len(elements)  # one lookup, not one per element
        return Result(values, tuple(tuple(k) for k in item_keys))

    def write_now(self, key: str, result: Result) -> bool:
        elements = self._element_keys(result)
        try:
            if elements is not None:
                # Each element in its own entry (written once, whoever else shares it),
                # the list as their keys.
                for i, e in enumerate(elements):
                    if not self.path(e).exists():
                        item = Result(tuple(v[i] for v in result.values))
                        if not self.write_now(e, item):
                            return False
                payload = packb([None, [list(k) for k in result.item_keys or ()], elements])
            else:
                payload = packb(
                    [
                        list(result.values),
                        list(result.item_keys) if result.item_keys is not None else None,
                    ]
                )
        except NotSerializable:
            return False
        data = MAGIC + hashlib.blake2b(payload, digest_size=DIGEST).digest() + payload
        p = self.path(key)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, p)
        except OSError:
            self.write_errors += 1
            try:
                tmp.unlink()
            except OSError:
                pass
            return False
        self._written_since_trim += len(data)
        if self._written_since_trim > max(self.max_bytes // 20, 64 << 20):
            self._written_since_trim = 0
            self.trim()
        return True

    def _write_loop(self) -> None:
        while True:
            item = self._pending.get()
            try:
                if item is None:
                    return
                try:
                    self.write_now(*item)
                finally:
                    self._inflight.pop(item[0], None)
            finally:
                self._pending.task_done()

    def flush(self) -> None:
        """Wait until queued writes are on disk."""
        if self._writer is not None and self._writer.is_alive():
            self._pending.join()

    def _files(self) -> list[tuple[Path, os.stat_result]]:
        out = []
        if not self.folder.is_dir():
            return out
        for sub in self.folder.iterdir():
            if sub.is_dir():
                for f in sub.glob("*.rgc"):
                    try:
                        out.append((f, f.stat()))
                    except OSError:
                        pass
        return out

    def trim(self) -> int:
        """Delete least recently used files until the folder fits `max_bytes`."""
        files = sorted(self._files(), key=lambda fs: fs[1].st_mtime)
        total = sum(st.st_size for _, st in files)
        removed = 0
        for f, st in files:
            if total <= self.max_bytes:
                break
            try:
                f.unlink()
                total -= st.st_size
                removed += 1
            except OSError:
                pass
        return removed

    def clear(self) -> int:
        self.flush()
        n = 0
        for f, _ in self._files():
            try:
                f.unlink()
                n += 1
            except OSError:
                pass
        return n

    def stats(self) -> dict[str, Any]:
        files = self._files()
        return {
            "folder": str(self.folder),
            "entries": len(files),
            "bytes": sum(st.st_size for _, st in files),
            "max_bytes": self.max_bytes,
            "hits": self.hits,
            "misses": self.misses,
            "corrupt": self.corrupt,
        }


class SingleFlight:
    """At most one computation per key at a time among the runs sharing a cache: a run
    about to compute a key another run is computing waits for that one and takes its
    result (batch rows side by side, concurrent server runs). If the owner fails, a
    waiter computes it itself. Waits cannot form cycles: whoever holds a key is
    running that node's function, which never waits for another key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[str, threading.Event] = {}
        self.waits = 0  # computations avoided by waiting
        self.waiting = 0  # runs waiting for another's computation right now

    @contextlib.contextmanager
    def claim(
        self, key: str, lookup: Callable[[str], Result | None], cancelled: Callable[[], bool]
    ) -> Iterator[Result | None]:
        """Yields another run's result for `key` (after waiting for it), or None: then
        the caller computes it and puts it into the cache inside the block."""
        with self._lock:
            owner = self._owners.get(key)
            if owner is None:
                self._owners[key] = mine = threading.Event()
        if owner is not None:
            with self._lock:
                self.waiting += 1
            try:
                while not owner.wait(0.1):
                    if cancelled():
                        break
            finally:
                with self._lock:
                    self.waiting -= 1
            hit = lookup(key)
            if hit is not None:
                with self._lock:
                    self.waits += 1
            yield hit  # None: the owner failed or was cancelled (or we were)
            return
        try:
            yield None
        finally:
            with self._lock:
                self._owners.pop(key, None)
            mine.set()


class Cache:
    """Memory tier in front of an optional disk tier.

    Only results whose node took at least `disk_min_seconds` go to disk: cheap
    nodes recompute faster than they load, and skipping them keeps a long chain
    of small steps from writing a file per step.

    With a disk tier, a result larger than `memory_max_entry` bytes that goes to
    disk is not kept in memory as well (a card, a scene's speech, a list of them):
    reading it back costs milliseconds, holding it costs the memory a long render
    needs. Results that cannot go to disk (lazy video streams) and small ones stay.
    The bar is 256 KiB: a scene's narration (5 MB a minute at 22 kHz) is over it,
    so a long script's speech and its normalised copy are not held twice while the
    encoder streams; scene records, timings and cues are far below it.
    """

    def __init__(
        self,
        memory: MemoryCache | None = None,
        disk: DiskCache | None = None,
        disk_min_seconds: float = DISK_MIN_SECONDS,
        memory_max_entry: int = 1 << 18,
    ):
        self.memory = memory if memory is not None else MemoryCache()
        self.disk = disk
        self.disk_min_seconds = disk_min_seconds
        self.memory_max_entry = memory_max_entry
        self.flights = SingleFlight()

    def computing(
        self, key: str, cancelled: Callable[[], bool] = lambda: False
    ) -> contextlib.AbstractContextManager[Result | None]:
        """`with cache.computing(key) as hit:` hit is the result another run computed
        meanwhile, or None when this run should compute (and put) it."""
        return self.flights.claim(key, self.get, cancelled)

    def get(self, key: str) -> Result | None:
        result = self.memory.get(key)
        if result is None and self.disk is not None:
            result = self.disk.get(key)
            if result is not None and sizeof(result) <= self.memory_max_entry:
                self.memory.put(key, result)
        return result

    def put(
        self,
        key: str,
        result: Result,
        *,
        seconds: float = 0.0,
        nbytes: int | None = None,
        persist: bool = False,
    ) -> None:
        """`persist` sends it to disk however fast it was (results of nodes that write files)."""
        to_disk = self.disk is not None and (persist or seconds >= self.disk_min_seconds)
        size = sizeof(result) if nbytes is None else nbytes
        if not (to_disk and size > self.memory_max_entry and _serializable(result)):
            self.memory.put(key, result, size)
        if to_disk:
            assert self.disk is not None
            self.disk.put(key, result)

    def flush(self) -> None:
        if self.disk is not None:
            self.disk.flush()

    def clear(self) -> None:
        self.memory.clear()
        if self.disk is not None:
            self.disk.clear()

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {"memory": self.memory.stats()}
        if self.disk is not None:
            out["disk"] = self.disk.stats()
        return out
