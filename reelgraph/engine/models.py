"""The models folder and the model cache.

Weights live under one folder, `REELGRAPH_MODELS` (default `./models`), in one
subfolder per kind:

    diffusers/    diffusers-format folders (a `model_index.json` each; `org/name` nesting allowed)
    checkpoints/  single-file checkpoints (`.safetensors`, `.ckpt`) for `from_single_file`
    voices/       Piper voices (`.onnx` + `.onnx.json`)
    tts/          Coqui model folders
    lipsync/      lip-sync model folders or files

Nothing is downloaded at run time: importing this module sets `HF_HUB_OFFLINE=1`
unless the user opted in with `REELGRAPH_ALLOW_DOWNLOADS=1`.

The model cache keeps loaded models (pipelines, voices, ...) warm between
nodes and runs. It is separate from the value cache: a value-cache entry is a
result that can be recomputed, a model is an expensive handle that is reused.
Entries are keyed by whatever identifies a load (folder + device + dtype +
options), bounded per device by measured bytes (LRU), pinned while a node uses
them, and can be unloaded explicitly. The module imports no torch: measuring
and freeing touch torch only when it is already loaded.
"""

from __future__ import annotations

import gc
import hashlib
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODELS_ENV = "REELGRAPH_MODELS"
ALLOW_DOWNLOADS_ENV = "REELGRAPH_ALLOW_DOWNLOADS"
KINDS = ("diffusers", "checkpoints", "voices", "tts", "lipsync")
CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf")


def downloads_allowed() -> bool:
    return os.environ.get(ALLOW_DOWNLOADS_ENV, "").strip().lower() in ("1", "true", "yes")


def ensure_offline() -> None:
    """Keep the Hugging Face hub offline unless downloads were explicitly allowed."""
    if not downloads_allowed():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


ensure_offline()


class ModelNotFound(FileNotFoundError):
    """A model named in a workflow is not in the models folder (the message says where)."""


def models_dir() -> Path:
    return Path(os.environ.get(MODELS_ENV) or "models")


COMPILED_ENV = "REELGRAPH_COMPILED_DIR"


def compiled_dir() -> Path:
    """Where forms of models made on this machine are kept (a voice with its graph
    already optimised): $REELGRAPH_COMPILED_DIR, else ~/.cache/reelgraph-compiled. Not
    the value cache: what is here depends on a model file and library versions only,
    so a run with a fresh value cache still finds it, as pip finds its built wheels."""
    env = os.environ.get(COMPILED_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reelgraph-compiled"


def model_folder(kind: str) -> Path:
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; one of {', '.join(KINDS)}")
    return models_dir() / kind


def _under(folder: Path, name: str) -> Path:
    """`folder/name`, refusing names that climb out of the folder."""
    if not name or name.startswith(("/", "\\")) or ".." in Path(name).parts:
        raise ModelNotFound(f"invalid model name {name!r}")
    return folder / name


def diffusers_models() -> list[str]:
    """Diffusers-format folders under models/diffusers: `name` or `org/name` (a folder with
    model_index.json)."""
    root = model_folder("diffusers")
    if not root.is_dir():
        return []
    out: list[str] = []
    for p in sorted(root.iterdir()):
        if not p.is_dir() or p.name.startswith("."):
            continue
        if (p / "model_index.json").is_file():
            out.append(p.name)
        else:
            out += [
                f"{p.name}/{q.name}"
                for q in sorted(p.iterdir())
                if q.is_dir() and (q / "model_index.json").is_file()
            ]
    return out


def checkpoint_files(suffixes: tuple[str, ...] = CHECKPOINT_SUFFIXES) -> list[str]:
    """Single-file checkpoints under models/checkpoints (relative names, subfolders allowed)."""
    root = model_folder("checkpoints")
    if not root.is_dir():
        return []
    # A folder with a model_index.json beside a checkpoint holds its configs: not a checkpoint.
    configs = {p.parent for p in root.rglob("model_index.json")}
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in suffixes
        and not p.name.startswith(".")
        and not any(c == p.parent or c in p.parents for c in configs)
    )


def resolve(kind: str, name: str) -> Path:
    """The path of model `name` of `kind`, or ModelNotFound naming the folder expected."""
    folder = model_folder(kind)
    path = _under(folder, name)
    if kind == "diffusers":
        if not (path / "model_index.json").is_file():
            what = (
                "has no model_index.json (not a diffusers folder)"
                if path.is_dir()
                else "is missing"
            )
            raise ModelNotFound(
                f"model {name!r} {what}: expected a diffusers folder {path} (save_pretrained output "
                f"with model_index.json) in {folder.resolve()}"
            )
        return path
    if not path.exists():
        raise ModelNotFound(f"model {name!r} is missing: expected {path} in {folder.resolve()}")
    return path


_FINGERPRINTS: dict[Path, tuple[float, str]] = {}
FINGERPRINT_TTL = 1.0  # seconds: one run plans and loads a model with a single walk of its files


def files_fingerprint(path: Path) -> str:
    """Names, sizes and mtimes of the files of a model: replacing weights changes it.
    Reused for FINGERPRINT_TTL seconds, so planning and loading in one run walk the folder once."""
    now = time.monotonic()
    hit = _FINGERPRINTS.get(path)
    if hit is not None and now - hit[0] < FINGERPRINT_TTL:
        return hit[1]
    fp = _fingerprint_now(path)
    _FINGERPRINTS[path] = (now, fp)
    return fp


def _fingerprint_now(path: Path) -> str:
    h = hashlib.blake2b(digest_size=12)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for p in files:
        try:
            st = p.stat()
        except OSError:
            continue
        h.update(
            f"{p.relative_to(path) if p != path else p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode()
        )
    return h.hexdigest()


# --- devices and dtypes (torch imported only when called) ----------------------

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "float16", "bfloat16")


def pick_device(name: str = "auto") -> str:
    """`auto`: cuda, then mps, then cpu. An explicit device that is not there is an error."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but no CUDA GPU is available")
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise RuntimeError("device 'mps' was asked for but Apple MPS is not available")
    if name not in DEVICES and not name.startswith("cuda:"):
        raise RuntimeError(f"unknown device {name!r}; one of {', '.join(DEVICES)}")
    return name


def pick_dtype(name: str, device: str) -> Any:
    """`auto`: float32 on CPU; bfloat16 on CUDA when supported, else float16."""
    import torch

    if name == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device == "mps":
            return torch.float16
        return torch.float32
    try:
        return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[
            name
        ]
    except KeyError:
        raise RuntimeError(f"unknown dtype {name!r}; one of {', '.join(DTYPES)}") from None


def measure_bytes(value: Any) -> int:
    """Bytes held by the torch modules/tensors in `value` (a module, a diffusers pipeline's
    components, a dict/list of them), each storage counted once. Objects without tensors
    may define `nbytes`."""
    torch = sys.modules.get("torch")
    if torch is None:
        return int(getattr(value, "nbytes", 0) or 0)
    seen: set[int] = set()
    total = 0
    stack = [value]
    visited: set[int] = set()
    while stack:
        v = stack.pop()
        if id(v) in visited:
            continue
        visited.add(id(v))
        if isinstance(v, torch.nn.Module):
            for t in [*v.parameters(), *v.buffers()]:
                key = t.untyped_storage().data_ptr() if t.device.type != "meta" else id(t)
                if key not in seen:
                    seen.add(key)
                    total += t.numel() * t.element_size()
        elif isinstance(v, torch.Tensor):
            key = v.untyped_storage().data_ptr()
            if key not in seen:
                seen.add(key)
                total += v.numel() * v.element_size()
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
        elif hasattr(v, "components") and isinstance(v.components, dict):
            stack.extend(v.components.values())  # a diffusers pipeline
        elif isinstance(getattr(v, "nbytes", None), int):
            total += v.nbytes
    return total


def device_class(device: str) -> str:
    """Budget class of a device string: `cuda:1` -> `cuda`."""
    return device.split(":", 1)[0] if device else "cpu"


def default_budget(device: str) -> int:
    """Bytes the cache may hold on a device class: REELGRAPH_MODEL_CACHE_MB (per class), else
    half of the RAM for cpu and 90% of the GPU for cuda."""
    env = os.environ.get("REELGRAPH_MODEL_CACHE_MB")
    if env:
        return int(float(env) * 1024 * 1024)
    cls = device_class(device)
    if cls == "cuda" and "torch" in sys.modules:
        torch = sys.modules["torch"]
        try:
            return int(torch.cuda.get_device_properties(0).total_memory * 0.9)
        except Exception:
            pass
    try:
        import psutil

        return int(psutil.virtual_memory().total * 0.5)
    except Exception:
        return 8 << 30


# --- the model cache -----------------------------------------------------------


@dataclass
class ModelEntry:
    key: Hashable
    value: Any
    nbytes: int
    device: str
    load_seconds: float
    loaded_at: float = field(default_factory=time.time)
    hits: int = 0
    users: int = 0
    # Held while a node drives the model: pipelines are not thread-safe.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    # Things derived from the model (another task's pipeline sharing its modules).
    derived: dict[Hashable, Any] = field(default_factory=dict, repr=False)


@dataclass
class CacheStats:
    loads: int = 0
    hits: int = 0
    evictions: int = 0
    unloads: int = 0


class ModelCache:
    """Loaded models kept warm: LRU per device class by measured bytes; pinned while in use.

        with model_cache().use(key, loader, device="cuda") as entry:
            entry.value(...)          # the loaded model; entry.lock is held

    A second `use` of the same key loads nothing. Loading another model evicts least
    recently used entries on the same device class that no one is using until the new
    one fits the budget.
    """

    def __init__(self, budgets: dict[str, int] | None = None):
        self._budgets = dict(budgets or {})
        self._entries: OrderedDict[Hashable, ModelEntry] = OrderedDict()
        self._lock = threading.RLock()
        self._loading: dict[Hashable, threading.Lock] = {}
        self.stats = CacheStats()
        self.listeners: list[Callable[[str, ModelEntry], None]] = []

    # -- budgets -------------------------------------------------------------
    def budget(self, device: str) -> int:
        cls = device_class(device)
        if cls not in self._budgets:
            self._budgets[cls] = default_budget(cls)
        return self._budgets[cls]

    def set_budget(self, device: str, nbytes: int) -> None:
        with self._lock:
            self._budgets[device_class(device)] = int(nbytes)
            self._evict(device_class(device), 0)

    # -- lookup / load ---------------------------------------------------------
    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[ModelEntry]:
        with self._lock:
            return list(self._entries.values())

    def used_bytes(self, device: str | None = None) -> int:
        with self._lock:
            return sum(
                e.nbytes
                for e in self._entries.values()
                if device is None or device_class(e.device) == device_class(device)
            )

    def peek(self, key: Hashable) -> ModelEntry | None:
        return self._entries.get(key)

    def get_or_load(
        self,
        key: Hashable,
        loader: Callable[[], Any],
        *,
        device: str = "cpu",
        measure: Callable[[Any], int] = measure_bytes,
    ) -> ModelEntry:
        """The entry for `key`, loading it with `loader()` on a miss (once, even when several
        threads ask at the same time). Not pinned: prefer `use`."""
        with self._lock:
            entry = self._hit(key)
            if entry is not None:
                return entry
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                entry = self._hit(key)
                if entry is not None:
                    return entry
            t = time.perf_counter()
            value = loader()
            seconds = time.perf_counter() - t
            nbytes = int(measure(value))
            entry = ModelEntry(key, value, nbytes, device, seconds)
            with self._lock:
                self._evict(device_class(device), nbytes)
                self._entries[key] = entry
                self._loading.pop(key, None)
                self.stats.loads += 1
            self._notify("loaded", entry)
            return entry

    def _hit(self, key: Hashable) -> ModelEntry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            entry.hits += 1
            self.stats.hits += 1
        return entry

    @contextmanager
    def use(
        self,
        key: Hashable,
        loader: Callable[[], Any],
        *,
        device: str = "cpu",
        measure: Callable[[Any], int] = measure_bytes,
    ) -> Iterator[ModelEntry]:
        """Load (or reuse) and pin an entry, holding its lock for the duration."""
        while True:
            entry = self.get_or_load(key, loader, device=device, measure=measure)
            with self._lock:
                if self._entries.get(key) is entry:  # not evicted in between
                    entry.users += 1
                    break
        try:
            with entry.lock:
                yield entry
        finally:
            with self._lock:
                entry.users -= 1

    # -- eviction / unload -------------------------------------------------------
    def _evict(self, cls: str, incoming: int) -> None:
        budget = self.budget(cls)
        used = sum(e.nbytes for e in self._entries.values() if device_class(e.device) == cls)
        for key in list(self._entries):
            if used + incoming <= budget:
                break
            e = self._entries[key]
            if device_class(e.device) != cls or e.users > 0:
                continue
            del self._entries[key]
            used -= e.nbytes
            self.stats.evictions += 1
            self._notify("evicted", e)
            self._release(e)
        if used + incoming > budget and any(
            device_class(e.device) == cls for e in self._entries.values()
        ):
            pass  # everything left is in use: go over budget rather than fail the run

    def unload(
        self, key: Hashable | None = None, *, match: Callable[[Hashable], bool] | None = None
    ) -> int:
        """Drop one entry (`key`), the entries whose key `match`es, or all (no arguments).
        Entries in use are dropped once their user is done (they stay loaded until then).
        Returns how many entries were dropped."""
        with self._lock:
            if key is not None:
                keys = [key] if key in self._entries else []
            elif match is not None:
                keys = [k for k in self._entries if match(k)]
            else:
                keys = list(self._entries)
            dropped = [self._entries.pop(k) for k in keys]
            self.stats.unloads += len(dropped)
        for e in dropped:
            self._notify("unloaded", e)
            self._release(e)
        if dropped:
            gc.collect()
            free_accelerator_memory()
        return len(dropped)

    def clear(self) -> int:
        return self.unload()

    def _release(self, entry: ModelEntry) -> None:
        entry.derived.clear()
        if entry.users == 0:
            entry.value = None

    def _notify(self, what: str, entry: ModelEntry) -> None:
        for fn in list(self.listeners):
            try:
                fn(what, entry)
            except Exception:
                pass

    def summary(self) -> list[dict[str, Any]]:
        """What is loaded, for `reelgraph cache`-style listings and the server."""
        return [
            {
                "key": repr(e.key),
                "device": e.device,
                "mb": round(e.nbytes / 2**20, 2),
                "load_seconds": round(e.load_seconds, 3),
                "hits": e.hits,
                "in_use": e.users > 0,
            }
            for e in self.entries()
        ]


def free_accelerator_memory() -> None:
    torch = sys.modules.get("torch")
    if torch is None:
        return
    try:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        mps = getattr(torch, "mps", None)
        if (
            mps is not None
            and getattr(torch.backends, "mps", None)
            and torch.backends.mps.is_available()
        ):
            mps.empty_cache()
    except Exception:
        pass


_MODEL_CACHE = ModelCache()


def model_cache() -> ModelCache:
    """The process-wide model cache every node shares."""
    return _MODEL_CACHE


__all__ = [
    "ALLOW_DOWNLOADS_ENV",
    "CHECKPOINT_SUFFIXES",
    "COMPILED_ENV",
    "DEVICES",
    "DTYPES",
    "KINDS",
    "MODELS_ENV",
    "ModelCache",
    "ModelEntry",
    "ModelNotFound",
    "checkpoint_files",
    "compiled_dir",
    "device_class",
    "diffusers_models",
    "downloads_allowed",
    "ensure_offline",
    "files_fingerprint",
    "measure_bytes",
    "model_cache",
    "model_folder",
    "models_dir",
    "pick_device",
    "pick_dtype",
    "resolve",
]
