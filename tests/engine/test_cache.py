"""Memory LRU by bytes, the disk tier across processes, corruption, source hashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from reelgraph.engine import Cache, DiskCache, Engine, MemoryCache, Registry, Result
from reelgraph.engine.cache import sizeof

from .helpers import link, n, registry, workflow

ROOT = Path(__file__).resolve().parents[2]


def test_memory_lru_is_bounded_in_tensor_bytes():
    mem = MemoryCache(max_bytes=3 * 4096 + 1000)
    for i in range(5):
        mem.put(f"k{i}", Result((torch.zeros(1024),)))  # 4 KiB each
    assert mem.stats()["entries"] == 3 and mem.bytes <= mem.max_bytes
    assert mem.get("k0") is None and mem.get("k4") is not None
    mem.get("k2")  # touch: k3 becomes the oldest
    mem.put("k5", Result((torch.zeros(1024),)))
    assert mem.get("k3") is None and mem.get("k2") is not None


def test_an_entry_larger_than_the_budget_is_not_kept():
    mem = MemoryCache(max_bytes=1000)
    mem.put("small", Result((1,)))
    mem.put("big", Result((torch.zeros(10_000),)))
    assert mem.get("big") is None and mem.get("small") is not None


def test_sizeof_counts_tensor_storage():
    assert sizeof(torch.zeros(1000, dtype=torch.float32)) >= 4000
    assert sizeof([torch.zeros(100), torch.zeros(100)]) >= 800


def test_disk_round_trip_of_tensors_and_plain_values(tmp_path):
    disk = DiskCache(tmp_path)
    value = Result(
        (
            torch.rand(2, 3, 4),
            {"a": [1, 2.5, "x"]},
            (1, 2),
            None,
            torch.arange(5, dtype=torch.int64),
        )
    )
    assert disk.write_now("ab" * 16, value)
    back = disk.get("ab" * 16)
    assert torch.equal(back.values[0], value.values[0]) and back.values[0].dtype == torch.float32
    assert back.values[1:4] == value.values[1:4]
    assert torch.equal(back.values[4], value.values[4])


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_a_corrupted_entry_is_a_miss_and_is_removed(tmp_path, damage):
    disk = DiskCache(tmp_path)
    key = "cd" * 16
    disk.write_now(key, Result((torch.rand(64, 64),)))
    path = disk.path(key)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        path.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    elif damage == "garbage":
        path.write_bytes(os.urandom(300))
    else:
        path.write_bytes(b"")
    assert disk.get(key) is None
    assert not path.exists() and disk.corrupt == 1


def test_corrupted_entry_during_a_run_is_recomputed(tmp_path):
    cache_dir = tmp_path / "cache"
    wf = workflow(
        {"s": n("image.Solid", width=32, height=32), "b": n("image.Blur", image=link("s", "image"))}
    )
    eng = Engine(
        registry(), Cache(MemoryCache(), DiskCache(cache_dir), disk_min_seconds=0), out_dir=tmp_path
    )
    eng.run(wf, targets=["b"])
    eng.close()
    for f in cache_dir.rglob("*.rgc"):
        f.write_bytes(f.read_bytes()[:20])
    eng2 = Engine(
        registry(), Cache(MemoryCache(), DiskCache(cache_dir), disk_min_seconds=0), out_dir=tmp_path
    )
    result = eng2.run(wf, targets=["b"])
    eng2.close()
    assert result.ok and sorted(result.executed) == ["b", "s"]


def test_unserialisable_values_stay_in_memory_only(tmp_path):
    disk = DiskCache(tmp_path)
    assert disk.write_now("ef" * 16, Result((object(),))) is False
    assert disk.get("ef" * 16) is None


def _cli(args, env):
    return subprocess.run(
        [sys.executable, "-m", "reelgraph.engine.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_a_second_process_reuses_the_disk_cache(tmp_path):
    wf = {
        "format": "reelgraph.workflow",
        "version": 1,
        "nodes": {
            "s": n("image.Solid", width=256, height=256, color="#204080"),
            "b": n("image.Blur", image=link("s", "image"), sigma=4.0),
            "save": n("image.SavePNG", image=link("b", "image"), prefix="x"),
        },
    }
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(wf))
    env = {**os.environ, "REELGRAPH_CACHE_DIR": str(tmp_path / "cache")}
    args = [
        "run",
        str(path),
        "--out",
        str(tmp_path / "out"),
        "--json",
        "-q",
        "--cache-min-seconds",
        "0",
    ]
    first = _cli(args, env)
    assert first.returncode == 0, first.stderr
    assert sorted(json.loads(first.stdout)["executed"]) == ["b", "s", "save"]
    # The PNG is gone, so the saver runs again; its input comes from the first process's disk cache.
    (tmp_path / "out" / "x_00000.png").unlink()
    second = _cli(args, env)
    summary = json.loads(second.stdout)
    assert second.returncode == 0 and summary["status"] == "finished"
    assert summary["executed"] == ["save"] and summary["cached"] == ["b"]
    # Nothing changed and the file exists: a third process runs nothing at all.
    third = json.loads(_cli(args, env).stdout)
    assert third["executed"] == [] and third["cached"] == ["save"]


NODE_SOURCE = '''
from reelgraph import INT, node


@node("custom.Scale", category="test", outputs={"value": INT})
def scale(value: int = 1) -> int:
    """Multiply."""
    return value * FACTOR


FACTOR = 2
'''


def test_editing_a_node_source_invalidates_its_results(tmp_path):
    folder = tmp_path / "custom_nodes"
    folder.mkdir()
    (folder / "scaling.py").write_text(textwrap.dedent(NODE_SOURCE))
    cache = Cache(MemoryCache(), DiskCache(tmp_path / "cache"), disk_min_seconds=0)
    wf = workflow({"s": n("custom.Scale", value=5)})

    def run():
        reg = Registry.discover(custom_nodes=[folder])
        assert not reg.load_errors
        eng = Engine(reg, cache, out_dir=tmp_path)
        try:
            return eng.run(wf, targets=["s"])
        finally:
            eng.close()

    first = run()
    assert first.outputs["s"]["value"] == 10 and first.executed == ["s"]
    assert run().executed == []
    # A helper value in the same file changes: the node must run again.
    (folder / "scaling.py").write_text(
        textwrap.dedent(NODE_SOURCE).replace("FACTOR = 2", "FACTOR = 3")
    )
    third = run()
    assert third.executed == ["s"] and third.outputs["s"]["value"] == 15


def test_broken_custom_pack_is_reported_not_fatal(tmp_path):
    folder = tmp_path / "custom_nodes"
    folder.mkdir()
    (folder / "broken.py").write_text(
        "raise ImportError('needs a package that is not installed')\n"
    )
    (folder / "fine.py").write_text(
        textwrap.dedent(NODE_SOURCE).replace("custom.Scale", "custom.Fine")
    )
    reg = Registry.discover(custom_nodes=[folder])
    assert "custom.Fine" in reg and "image.Blur" in reg
    (err,) = reg.load_errors
    assert err.source.endswith("broken.py") and "not installed" in err.message


def test_cache_cli_stats_and_clear(tmp_path):
    disk = DiskCache(tmp_path / "c")
    for i in range(3):
        disk.write_now(f"{i:02d}" * 16, Result((torch.zeros(100),)))
    env = {**os.environ, "REELGRAPH_CACHE_DIR": str(tmp_path / "c")}
    stats = _cli(["cache", "stats", "--json"], env)
    assert json.loads(stats.stdout)["entries"] == 3
    cleared = _cli(["cache", "clear"], env)
    assert "removed 3" in cleared.stdout
    assert json.loads(_cli(["cache", "stats", "--json"], env).stdout)["entries"] == 0


def test_disk_tier_trims_to_its_size_limit(tmp_path):
    disk = DiskCache(tmp_path, max_bytes=10_000)
    for i in range(10):
        disk.write_now(f"{i:02d}" * 16, Result((torch.zeros(1000),)))  # ~4 KB each
    disk.trim()
    assert disk.stats()["bytes"] <= 10_000


def test_sizing_and_storing_values_while_torch_is_half_imported():
    # A node finishing while another thread is still importing torch sees a torch
    # module without a Tensor class in sys.modules: that must not break the cache.
    code = (
        "import sys, types; sys.modules['torch'] = types.ModuleType('torch'); "
        "sys.modules['numpy'] = types.ModuleType('numpy'); "
        "from reelgraph.engine.cache import sizeof, Result; from reelgraph.engine.serialize import packb; "
        "print(sizeof(Result(([1, 2], 'abc'))) > 0, len(packb([1, 'x', (2, 3)])) > 0)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert out.stdout.strip() == "True True", out.stderr


class Span(tuple):
    """A tuple subclass with its own codec: must come back as itself, not a plain tuple."""


def test_registered_codecs_win_over_builtin_containers(tmp_path):
    from reelgraph.engine import register_codec

    register_codec(Span, "test.Span", lambda s: list(s), lambda d: Span(d))
    disk = DiskCache(tmp_path)
    disk.write_now("aa" * 16, Result((Span((1, 2)),)))
    back = disk.get("aa" * 16).values[0]
    assert type(back) is Span and back == (1, 2)


def test_images_of_8_bit_pixels_are_stored_as_bytes_and_come_back_exact(tmp_path):
    disk = DiskCache(tmp_path)
    codes = torch.randint(0, 256, (1, 120, 160, 3), dtype=torch.uint8)
    image = codes.float() / 255  # how nodes turn 8-bit pixels into an IMAGE
    speech = torch.randint(-32768, 32768, (1, 40_000)).float() / 32768  # a 16-bit voice
    noise = torch.rand(1, 120, 160, 3)  # no 8-bit codes: kept as float32
    for i, value in enumerate((image, speech, noise)):
        assert disk.write_now(f"{i:02d}" * 16, Result((value,)))
        back = disk.get(f"{i:02d}" * 16).values[0]
        assert back.dtype == torch.float32 and torch.equal(back, value)
    size = {i: disk.path(f"{i:02d}" * 16).stat().st_size for i in range(3)}
    assert size[0] < image.nelement() * 1.05  # one byte per value, not four
    assert size[1] < speech.nelement() * 2.1
    assert size[2] > noise.nelement() * 4


def test_a_mapped_list_stores_each_element_once(tmp_path):
    disk = DiskCache(tmp_path)
    cards = {name: torch.randint(0, 256, (1, 64, 64, 3), dtype=torch.uint8) for name in "abcdef"}

    def listed(names: str) -> Result:
        # The shape the scheduler gives a mapped node's result: item key "<element>/<output>".
        return Result(
            ([cards[c] for c in names], [c.upper() for c in names]),
            (tuple(f"{c * 32}/0" for c in names), tuple(f"{c * 32}/1" for c in names)),
        )

    def folder_bytes() -> int:
        return sum(f.stat().st_size for f in tmp_path.rglob("*.rgc"))

    assert disk.write_now("10" * 16, listed("abcde"))
    one = folder_bytes()
    # A variant that changes one element of five adds about one element, not a list.
    assert disk.write_now("11" * 16, listed("abfde"))
    assert folder_bytes() - one < 1.5 * (one / 5)
    back = disk.get("11" * 16)
    assert all(torch.equal(x, cards[c]) for x, c in zip(back.values[0], "abfde", strict=True))
    assert back.values[1] == ["A", "B", "F", "D", "E"]
    assert back.item_keys[1][2] == "f" * 32 + "/1"
    # An element trimmed away: the list is a miss, never a wrong or short list.
    disk.path("f" * 32).unlink()
    assert disk.get("11" * 16) is None and disk.get("10" * 16) is not None


def test_big_results_that_go_to_disk_are_not_also_held_in_memory(tmp_path):
    cache = Cache(MemoryCache(), DiskCache(tmp_path), memory_max_entry=1 << 20)
    card = torch.randint(0, 256, (1, 600, 800, 3), dtype=torch.uint8).float() / 255  # 5.8 MB
    cache.put("aa" * 16, Result((card,)), seconds=1.0)
    assert cache.memory.stats()["entries"] == 0
    assert torch.equal(cache.get("aa" * 16).values[0], card)  # queued or written: a hit
    cache.flush()
    assert torch.equal(cache.get("aa" * 16).values[0], card) and cache.memory.bytes == 0
    # What cannot go to disk (a lazy stream) and small results stay in memory.
    cache.put("bb" * 16, Result((object(),)), seconds=1.0, nbytes=5 << 20)
    cache.put("cc" * 16, Result(("scene text",)), seconds=1.0)
    assert cache.memory.get("bb" * 16) is not None and cache.memory.get("cc" * 16) is not None
    # Without a disk tier the memory tier is the only cache: it keeps big results.
    alone = Cache(MemoryCache())
    alone.put("dd" * 16, Result((card,)), seconds=1.0)
    assert alone.get("dd" * 16) is not None
