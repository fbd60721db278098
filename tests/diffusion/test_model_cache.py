"""The models folder and the model cache, without any model code."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from reelgraph.engine import models as M


class Blob:
    def __init__(self, nbytes: int):
        self.nbytes = nbytes


def test_lru_by_measured_bytes_and_explicit_unload():
    cache = M.ModelCache({"cpu": 100})
    loads: list[str] = []

    def loader(name: str, size: int):
        return lambda: loads.append(name) or Blob(size)

    a = cache.get_or_load("a", loader("a", 40))
    cache.get_or_load("b", loader("b", 40))
    assert a.nbytes == 40 and cache.used_bytes("cpu") == 80
    cache.get_or_load("a", loader("a", 40))  # a hit: a becomes most recent
    cache.get_or_load("c", loader("c", 40))  # over budget: evicts b, the least recently used
    assert "a" in cache and "c" in cache and "b" not in cache
    assert loads == ["a", "b", "c"] and cache.stats.evictions == 1 and cache.stats.hits == 1
    assert cache.unload("a") == 1 and "a" not in cache
    assert cache.unload() == 1 and len(cache) == 0


def test_budgets_are_per_device_and_pinned_entries_stay():
    cache = M.ModelCache({"cpu": 50, "cuda": 50})
    cache.get_or_load("gpu-model", lambda: Blob(50), device="cuda:0")
    with cache.use("pinned", lambda: Blob(40)) as entry:
        assert entry.users == 1
        cache.get_or_load(
            "other", lambda: Blob(40)
        )  # cannot evict the pinned one: goes over budget
        assert "pinned" in cache and "other" in cache
    assert "gpu-model" in cache  # another device class is not touched by cpu pressure
    cache.get_or_load("third", lambda: Blob(40))
    assert "pinned" not in cache  # unpinned now, least recent: evicted


def test_concurrent_requests_load_once():
    cache = M.ModelCache({"cpu": 1000})
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return Blob(1)

    threads = [threading.Thread(target=cache.get_or_load, args=("k", slow)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and cache.stats.loads == 1 and cache.stats.hits == 3


def test_measure_bytes_counts_shared_tensors_once():
    torch = pytest.importorskip("torch")
    lin = torch.nn.Linear(10, 10)
    assert M.measure_bytes(lin) == (100 + 10) * 4
    assert M.measure_bytes({"a": lin, "b": lin, "c": [lin.weight]}) == (100 + 10) * 4


def test_models_folder_listing_and_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("REELGRAPH_MODELS", str(tmp_path))
    assert M.diffusers_models() == [] and M.checkpoint_files() == []
    (tmp_path / "diffusers" / "a").mkdir(parents=True)
    (tmp_path / "diffusers" / "a" / "model_index.json").write_text("{}")
    (tmp_path / "diffusers" / "org" / "b").mkdir(parents=True)
    (tmp_path / "diffusers" / "org" / "b" / "model_index.json").write_text("{}")
    (tmp_path / "diffusers" / "empty").mkdir()
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "x.safetensors").write_bytes(b"")
    assert M.diffusers_models() == ["a", "org/b"]
    assert M.checkpoint_files() == ["x.safetensors"]
    assert M.resolve("diffusers", "org/b") == tmp_path / "diffusers" / "org" / "b"
    with pytest.raises(M.ModelNotFound, match=r"missing: expected a diffusers folder .*diffusers"):
        M.resolve("diffusers", "nope")
    with pytest.raises(M.ModelNotFound, match=r"no model_index\.json"):
        M.resolve("diffusers", "empty")
    with pytest.raises(M.ModelNotFound, match="invalid model name"):
        M.resolve("diffusers", "../etc")
    monkeypatch.setattr(M, "FINGERPRINT_TTL", 0.0)  # no reuse window: see every change at once
    before = M.files_fingerprint(tmp_path / "diffusers" / "a")
    (tmp_path / "diffusers" / "a" / "weights.bin").write_bytes(b"12345")
    assert M.files_fingerprint(tmp_path / "diffusers" / "a") != before


def test_offline_by_default_and_no_torch_at_import():
    code = (
        "import os, sys; os.environ.pop('HF_HUB_OFFLINE', None); import reelgraph.engine.models, reelgraph.nodes.diffusion; "
        "from reelgraph.engine import Registry; Registry.discover(); "
        "print(os.environ.get('HF_HUB_OFFLINE'), 'torch' in sys.modules, 'diffusers' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(root)},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "False", "False"]
