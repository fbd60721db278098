"""Engine benchmark: scheduling and cache overhead on weight-free image graphs.

Graphs: source -> N x Blur -> Preview (N = 10, 100, 500; 8x8 and 512x512),
cold / identical re-run / middle widget changed; a wide graph (one source,
200 blur branches, a binary tree of blends: 401 nodes) re-run from cache; a
100,000-node chain. Per-node engine overhead = (wall - the same ops called
directly, measured in this run) / nodes.

    python bench/engine.py [--quick]

The last line printed is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from reelgraph.engine import Cache, Engine, MemoryCache, Registry, Workflow
from reelgraph.nodes.image import blend, blur, invert, solid

torch.set_num_threads(1)

# ComfyUI on this kind of machine (CPU, weight-free image nodes), from the issue.
COMFY = {
    "chain500_cold_ms": 16100,
    "chain500_rerun_ms": 17300,
    "chain500_partial_ms": 15900,
    "wide_rerun_ms": 529,
    "peak_rss_mb": 1400,
}


def link(node: str, output: str = "image") -> dict[str, str]:
    return {"from": node, "output": output}


def chain(n: int, size: int, sigma_mid: float = 1.0, op: str = "image.Blur") -> Workflow:
    nodes: dict = {
        "src": {
            "type": "image.Solid",
            "inputs": {"width": size, "height": size, "color": "#4080c0"},
        }
    }
    prev = "src"
    for i in range(n):
        inputs = {"image": link(prev)}
        if op == "image.Blur":
            inputs["sigma"] = sigma_mid if i == n // 2 else 1.0
        nodes[f"n{i}"] = {"type": op, "inputs": inputs}
        prev = f"n{i}"
    nodes["out"] = {"type": "image.Preview", "inputs": {"image": link(prev)}}
    return Workflow({"format": "reelgraph.workflow", "version": 1, "nodes": nodes})


def wide(branches: int = 200, size: int = 8) -> Workflow:
    nodes: dict = {"src": {"type": "image.Solid", "inputs": {"width": size, "height": size}}}
    layer = []
    for i in range(branches):
        nodes[f"b{i}"] = {
            "type": "image.Blur",
            "inputs": {"image": link("src"), "sigma": 0.5 + i * 0.01},
        }
        layer.append(f"b{i}")
    k = 0
    while len(layer) > 1:
        nxt = []
        for j in range(0, len(layer) - 1, 2):
            nodes[f"m{k}"] = {
                "type": "image.Blend",
                "inputs": {"a": link(layer[j]), "b": link(layer[j + 1]), "factor": 0.5},
            }
            nxt.append(f"m{k}")
            k += 1
        if len(layer) % 2:
            nxt.append(layer[-1])
        layer = nxt
    nodes["out"] = {"type": "image.Preview", "inputs": {"image": link(layer[0])}}
    return Workflow({"format": "reelgraph.workflow", "version": 1, "nodes": nodes})


def raw_chain_ms(n: int, size: int, repeats: int) -> float:
    """The same ops as the chain, called directly: the floor the engine adds to."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        x = solid(width=size, height=size, color="#4080c0")
        for _ in range(n):
            x = blur(x, 1.0)
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def timed(engine: Engine, wf: Workflow) -> tuple[float, object]:
    t = time.perf_counter()
    result = engine.run(wf)
    return (time.perf_counter() - t) * 1e3, result


def fresh_engine(registry: Registry) -> Engine:
    return Engine(registry, Cache(MemoryCache(8 << 30)), cpu_workers=1)


def bench_chain(registry: Registry, n: int, size: int, repeats: int) -> dict:
    rows = {}
    colds, reruns, partials, partial_exec = [], [], [], 0
    for _ in range(repeats):
        eng = fresh_engine(registry)
        wf = chain(n, size)
        ms, res = timed(eng, wf)
        assert res.ok and len(res.executed) == n + 2, res
        colds.append(ms)
        ms, res = timed(eng, wf)
        assert res.executed == []
        reruns.append(ms)
        ms, res = timed(eng, chain(n, size, sigma_mid=2.0))
        partials.append(ms)
        partial_exec = len(res.executed)
        eng.close()
    raw = raw_chain_ms(n, size, repeats)
    # Best of the repeats: this machine is shared, and noise only ever adds time.
    cold = min(colds)
    rows["cold_ms"] = cold
    rows["rerun_ms"] = min(reruns)
    rows["partial_ms"] = min(partials)
    rows["partial_executed"] = partial_exec
    rows["raw_ms"] = raw
    rows["overhead_us"] = max(0.0, (cold - raw) * 1e3 / (n + 2))
    return rows


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_chain500() -> float:
    """Peak RSS of a fresh process that runs only the 500-chain at 8x8 (torch included)."""
    root = str(Path(__file__).resolve().parents[1])
    code = (
        f"import sys; sys.path.insert(0, {root!r}); import bench.engine as b; "
        "from reelgraph.engine import Registry; r = Registry.discover(); e = b.fresh_engine(r); "
        "w = b.chain(500, 8); e.run(w); e.run(w); e.run(b.chain(500, 8, 2.0)); "
        "print(b.peak_rss_mb())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    return float(out.stdout.strip().splitlines()[-1])


def dangling_doc(count: int = 100_000) -> dict:
    """`count` nodes, each linked from a node that is not there (the D2 case)."""
    nodes = {
        f"n{i}": {"type": "image.Blur", "inputs": {"image": link(f"n{i}x")}} for i in range(count)
    }
    return {"format": "reelgraph.workflow", "version": 1, "nodes": nodes}


def bench_validation(registry: Registry) -> dict:
    """Validation of hostile documents: 100k dangling links, 100k unknown types.
    Baseline: json.loads of the same text, measured here (the floor any check adds to)."""
    from reelgraph.engine import loads_workflow, validate_workflow

    doc = dangling_doc()
    text = json.dumps(doc)
    t = time.perf_counter()
    json.loads(text)
    json_ms = (time.perf_counter() - t) * 1e3
    t = time.perf_counter()
    wf = loads_workflow(text)
    load_ms = (time.perf_counter() - t) * 1e3
    t = time.perf_counter()
    issues = validate_workflow(wf, registry)
    dangling_ms = (time.perf_counter() - t) * 1e3
    assert len(issues) == 100_000
    unknown = Workflow(
        {
            "format": "reelgraph.workflow",
            "version": 1,
            "nodes": {f"n{i}": {"type": f"nope.T{i}", "inputs": {}} for i in range(100_000)},
        }
    )
    t = time.perf_counter()
    assert len(validate_workflow(unknown, registry)) == 100_000
    unknown_ms = (time.perf_counter() - t) * 1e3
    return {
        "json_loads_100k_ms": json_ms,
        "load_dangling_100k_ms": load_ms,
        "validate_dangling_100k_ms": dangling_ms,
        "validate_unknown_100k_ms": unknown_ms,
    }


def discovery_figures() -> dict:
    """A fresh process: discovering the packs, then code keys of every built-in node
    (computed lazily, on first plan, so discovery itself does not pay for them)."""
    root = str(Path(__file__).resolve().parents[1])
    code = (
        f"import sys, time; sys.path.insert(0, {root!r}); "
        "from reelgraph.engine import Registry; t = time.perf_counter(); "
        "r = Registry.discover(); t1 = time.perf_counter(); "
        "[nt.source_hash for nt in r]; t2 = time.perf_counter(); "
        "print((t1 - t) * 1e3, (t2 - t1) * 1e3, len(r))"
    )
    best: list[float] = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
        row = [float(out[0]), float(out[1]), float(out[2])]
        best = row if not best or row[0] < best[0] else best
    return {"discover_ms": best[0], "code_keys_all_ms": best[1], "node_types": int(best[2])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, under 60 s")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    registry = Registry.discover()
    # Warm up torch's first-call costs outside the measurements.
    blur(solid(width=8, height=8), 1.0)
    invert(blend(solid(width=8, height=8), solid(width=8, height=8)))

    figures: dict = {}
    print(
        f"{'graph':<22}{'cold ms':>10}{'rerun ms':>10}{'partial ms':>12}{'partial ran':>12}"
        f"{'raw ops ms':>12}{'overhead us/node':>18}"
    )
    sizes = (8, 512)
    for size in sizes:
        for n in (10, 100, 500):
            if args.quick and size == 512 and n == 500:
                continue  # 500 blurs at 512x512 alone take ~10 s on this machine
            # Small graphs run in a few ms, where one preemption on this shared machine
            # doubles the figure: take the best of more repeats (they are cheap).
            if size == 512:
                reps = 3 if n == 10 or not args.quick else 1
            else:
                reps = max(repeats, {10: 30, 100: 10}.get(n, repeats))
            r = bench_chain(registry, n, size, reps)
            name = f"chain{n}@{size}"
            print(
                f"{name:<22}{r['cold_ms']:>10.1f}{r['rerun_ms']:>10.1f}{r['partial_ms']:>12.1f}"
                f"{r['partial_executed']:>12}{r['raw_ms']:>12.1f}{r['overhead_us']:>18.1f}"
            )
            figures[name] = r

    eng = fresh_engine(registry)
    wwf = wide()
    cold_ms, res = timed(eng, wwf)
    assert res.ok and len(res.executed) == 401, len(res.executed)
    reruns = [timed(eng, wwf)[0] for _ in range(7)]
    wide_rerun = min(reruns)
    eng.close()
    print(f"{'wide 401 nodes':<22}{cold_ms:>10.1f}{wide_rerun:>10.1f}")

    eng = fresh_engine(registry)
    deep = chain(100_000, 8, op="image.Invert")
    t = time.perf_counter()
    res = eng.run(deep)
    deep_s = time.perf_counter() - t
    assert res.ok
    deep_nodes = len(res.executed)
    t = time.perf_counter()
    x = solid(width=8, height=8)
    for _ in range(100_000):
        x = invert(x)
    deep_raw_s = time.perf_counter() - t
    eng.close()
    del eng, deep, res
    deep_overhead = (deep_s - deep_raw_s) * 1e6 / deep_nodes
    print(
        f"chain of {deep_nodes} Invert nodes: {deep_s:.2f} s (raw ops {deep_raw_s:.2f} s, "
        f"overhead {deep_overhead:.1f} us/node); no recursion limit"
    )

    val = bench_validation(registry)
    print(
        f"validate 100k dangling links: {val['validate_dangling_100k_ms']:.0f} ms "
        f"(load {val['load_dangling_100k_ms']:.0f} ms; json.loads alone "
        f"{val['json_loads_100k_ms']:.0f} ms); 100k unknown types: "
        f"{val['validate_unknown_100k_ms']:.0f} ms"
    )
    disc = discovery_figures()
    print(
        f"discovery of {disc['node_types']} node types: {disc['discover_ms']:.0f} ms; "
        f"code keys of all of them (lazy, first plan): {disc['code_keys_all_ms']:.0f} ms"
    )

    rss = peak_rss_chain500()
    c500 = figures["chain500@8"]
    overheads = [figures[f"chain{n}@8"]["overhead_us"] for n in (10, 100, 500)]
    print(f"peak RSS, fresh process running the 500-chain at 8x8: {rss:.0f} MB")
    print(
        "(at 512x512 the op dominates: the overhead figure there is within this shared machine's noise)"
    )
    print(
        "per-node overhead at 8x8 for N=10/100/500: "
        + " / ".join(f"{o:.1f}" for o in overheads)
        + " us"
    )
    print(
        "vs ComfyUI (quoted in the issue, same machine kind): "
        f"cold {COMFY['chain500_cold_ms'] / c500['cold_ms']:.0f}x faster, "
        f"re-run {COMFY['chain500_rerun_ms'] / max(c500['rerun_ms'], 0.01):.0f}x, "
        f"partial {COMFY['chain500_partial_ms'] / c500['partial_ms']:.0f}x, "
        f"wide re-run {COMFY['wide_rerun_ms'] / max(wide_rerun, 0.01):.0f}x, "
        f"peak RSS {COMFY['peak_rss_mb'] / rss:.1f}x smaller"
    )
    summary = {
        "per_node_overhead_us": round(c500["overhead_us"], 1),
        "per_node_overhead_us_n10_n100_n500": [round(o, 1) for o in overheads],
        "chain500_cold_ms": round(c500["cold_ms"], 1),
        "chain500_rerun_ms": round(c500["rerun_ms"], 2),
        "chain500_partial_ms": round(c500["partial_ms"], 1),
        "chain500_partial_executed": c500["partial_executed"],
        "chain500_raw_ops_ms": round(c500["raw_ms"], 1),
        "chain100_512_cold_ms": round(figures["chain100@512"]["cold_ms"], 1),
        "chain100_512_overhead_us": round(figures["chain100@512"]["overhead_us"], 1),
        "wide_cold_ms": round(cold_ms, 1),
        "wide_rerun_ms": round(wide_rerun, 2),
        "chain500_peak_rss_mb": round(rss, 1),
        "deep_chain_nodes": deep_nodes,
        "deep_chain_s": round(deep_s, 2),
        "deep_chain_overhead_us": round(deep_overhead, 1),
        "bench_peak_rss_mb": round(peak_rss_mb(), 1),
        "validate_dangling_100k_ms": round(val["validate_dangling_100k_ms"], 1),
        "validate_unknown_100k_ms": round(val["validate_unknown_100k_ms"], 1),
        "load_dangling_100k_ms": round(val["load_dangling_100k_ms"], 1),
        "json_loads_100k_ms": round(val["json_loads_100k_ms"], 1),
        "validate_vs_json_loads": round(
            val["validate_dangling_100k_ms"] / max(val["json_loads_100k_ms"], 0.01), 2
        ),
        "discover_ms": round(disc["discover_ms"], 1),
        "code_keys_all_ms": round(disc["code_keys_all_ms"], 1),
        "quick": args.quick,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
