"""Batch benchmark: N personalised variants of a short explainer, against N separate runs.

The workflow is docs/examples/greetings.json (three scenes; each row changes only the
first scene's title and narration, through {name} and {city}). Measured in one run:

(a) batch_wall_s: `reelgraph batch` of the N rows (local executor, 2 rows at a time),
    fresh disk cache; node executions and encoded frames from its summary, against
    what N cold, independent runs would do (node_executions_naive, encoded_frames_naive).
(b) naive_wall_s: the same N rows as N `reelgraph run --set ...` processes one after
    the other, sharing a fresh disk cache (what a shell loop does today).
(c) variant_cost_ratio: in one process with its models loaded, the wall of a variant
    rendered after other rows (only scene 1 differs) over a cold render of it
    (medians of 3 each).
(d) disk_mb_per_variant: the batch's disk cache folder size / N.
(e) ray_wall_s: the same batch with `--executor ray` on a local Ray of 2 CPUs, that
    the batch starts (and stops); ray_vs_local = ray_wall_s / batch_wall_s. Full run
    only: ray_joined_wall_s, the batch joining a Ray started beforehand with
    `ray start --head` (not timed), and ray_joined_vs_local.
(f) peak_rss_mb: peak resident memory of the batch process.

`--quick`: 2 variants at 160x90, 2 fps (under a minute on 2 cores: most of it is the
fixed cost of starting processes and Ray); the full run: 20 variants at 320x180, 12 fps. Wall times on a shared machine are noisy. The last line
is one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORKFLOW = ROOT / "docs" / "examples" / "greetings.json"
PEOPLE = [
    ("Ada", "London"), ("Alan", "Leeds"), ("Grace", "Arlington"), ("Edsger", "Nuenen"),
    ("Barbara", "Boston"), ("Donald", "Stanford"), ("Frances", "Oakland"), ("Ken", "Murray Hill"),
    ("Margaret", "Paoli"), ("Niklaus", "Zürich"), ("Radia", "Bellevue"), ("Tim", "Geneva"),
    ("Sophie", "Cambridge"), ("Linus", "Helsinki"), ("Katherine", "Hampton"), ("John", "Budapest"),
    ("Hedy", "Vienna"), ("Claude", "Petoskey"), ("Ida", "Tiruchirappalli"), ("Yukihiro", "Osaka"),
]  # fmt: skip


def _size_params(quick: bool) -> dict[str, object]:
    w, h, fps = (160, 90, 2.0) if quick else (320, 180, 12.0)
    return {"width": w, "height": h, "fps": fps, "card_width": w, "card_height": h}


def _rows(n: int, quick: bool) -> list[dict[str, object]]:
    size = _size_params(quick)
    return [
        {
            "name": f"{name} {i // len(PEOPLE) + 1}" if i >= len(PEOPLE) else name,
            "city": city,
            **size,
        }
        for i, (name, city) in enumerate(PEOPLE[i % len(PEOPLE)] for i in range(n))
    ]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "reelgraph.engine.cli", *args]


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def _batch(tmp: Path, rows_csv: Path, tag: str, *extra: str) -> tuple[float, dict, Path]:
    out, cache = tmp / f"out-{tag}", tmp / f"cache-{tag}"
    t = time.perf_counter()
    proc = subprocess.run(
        _cli("batch", str(WORKFLOW), str(rows_csv), "--out", str(out), "--cache-dir", str(cache),
             "--json", "-q", *extra),
        capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"batch {tag} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, json.loads(proc.stdout.strip().splitlines()[-1]), cache


def _naive(tmp: Path, rows: list[dict[str, object]]) -> tuple[float, int]:
    cache = tmp / "cache-naive"
    executed = 0
    t = time.perf_counter()
    for i, row in enumerate(rows):
        sets = [a for k, v in row.items() for a in ("--set", f"{k}={v}")]
        proc = subprocess.run(
            _cli("run", str(WORKFLOW), *sets, "--out", str(tmp / f"naive-{i}"),
                 "--cache-dir", str(cache), "--json", "-q"),
            capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            raise SystemExit(f"run {i} failed:\n{proc.stderr[-3000:]}")
        executed += len(json.loads(proc.stdout.strip().splitlines()[-1])["executed"])
    return time.perf_counter() - t, executed


def _variant_cost(tmp: Path, quick: bool) -> tuple[float, float, float]:
    """(variant wall, cold wall, ratio) in this process, models already loaded: the
    median of 3 one-scene variants (each after the rows before it, sharing a cache)
    over the median of 3 cold renders of those rows (each with an empty cache). One
    sample of each swings by 2x on a shared 2-core machine."""
    import statistics

    from reelgraph.engine import Cache, Engine, MemoryCache
    from reelgraph.engine.workflow import load_workflow

    wf = load_workflow(WORKFLOW)
    size = _size_params(quick)

    def render(cache: Cache, name: str, city: str) -> float:
        with Engine(cache=cache, out_dir=tmp / f"variant-{name}") as engine:
            t = time.perf_counter()
            result = engine.run(wf, params={"name": name, "city": city, **size})
            wall = time.perf_counter() - t
        assert result.ok, result.failed
        return wall

    shared = Cache(MemoryCache())
    render(shared, *PEOPLE[0])  # unmeasured: also loads the voice model and imports
    rows = PEOPLE[1:4]
    # scene 1 differs from the rows before; scenes 2-3 are cached
    variant = statistics.median(render(shared, *row) for row in rows)
    cold = statistics.median(render(Cache(MemoryCache()), *row) for row in rows)
    return variant, cold, variant / cold


def _joined_ray_batch(tmp: Path, rows_csv: Path) -> float:
    """The Ray batch again, on a Ray started beforehand with `ray start --head` (what
    docs/batch.md suggests for several batches on one machine): its start is not in
    the wall time, its workers' warm-up and the driver's connection are."""
    ray_cli = [sys.executable, "-m", "ray.scripts.scripts"]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    subprocess.run(
        [*ray_cli, "start", "--head", "--num-cpus", "2", "--include-dashboard=false",
         "--disable-usage-stats"],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    try:
        wall, _, _ = _batch(tmp, rows_csv, "ray-joined", "--executor", "ray", "--workers", "2")
    finally:
        subprocess.run([*ray_cli, "stop", "--force"], capture_output=True, env=env)
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 variants, 160x90, 2 fps")
    ap.add_argument("--variants", type=int, default=None)
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray batch")
    args = ap.parse_args()
    n = args.variants or (2 if args.quick else 20)
    rows = _rows(n, args.quick)
    size = _size_params(args.quick)
    print(
        f"{n} variants of {WORKFLOW.name} at {size['width']}x{size['height']}, {size['fps']:g} fps"
    )
    with tempfile.TemporaryDirectory(prefix="rg-bench-batch-") as d:
        tmp = Path(d)
        rows_csv = tmp / "rows.csv"
        with open(rows_csv, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, list(rows[0]))
            w.writeheader()
            w.writerows(rows)

        batch_wall, summary, cache = _batch(tmp, rows_csv, "local", "--workers", "2")
        peak_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        totals = summary["totals"]
        disk_mb = _folder_mb(cache)
        print(f"(a) batch: {batch_wall:.1f} s; {totals['node_executions']} node executions "
              f"(independent runs: {totals['node_executions_naive']}); "
              f"{totals['encoded_frames']} frames encoded (independent: {totals['encoded_frames_naive']})")  # fmt: skip
        naive_wall, naive_executed = _naive(tmp, rows)
        print(f"(b) {n} separate runs sharing a disk cache: {naive_wall:.1f} s "
              f"({naive_executed} plan nodes executed); speedup {naive_wall / batch_wall:.2f}x")  # fmt: skip
        variant, cold, ratio = _variant_cost(tmp, args.quick)
        print(f"(c) one-scene variant {variant:.2f} s vs cold {cold:.2f} s: ratio {ratio:.2f}")
        print(f"(d) disk cache {disk_mb:.1f} MB for {n} variants: {disk_mb / n:.2f} MB a variant")
        ray_wall = joined_wall = None
        if not args.no_ray:
            try:
                import ray  # noqa: F401
            except ImportError:
                print('(e) skipped: pip install "reelgraph[ray]"')
            else:
                ray_wall, _, _ = _batch(tmp, rows_csv, "ray", "--executor", "ray", "--workers", "2")
                print(f"(e) Ray batch (2 CPUs, incl. Ray start): {ray_wall:.1f} s, "
                      f"{ray_wall / batch_wall:.2f}x the local batch")  # fmt: skip
                if not args.quick:
                    joined_wall = _joined_ray_batch(tmp, rows_csv)
                    print(f"(e') Ray batch joining a Ray already running (ray start --head, "
                          f"not timed): {joined_wall:.1f} s, "
                          f"{joined_wall / batch_wall:.2f}x the local batch")  # fmt: skip
        print(f"(f) peak RSS of the batch process: {peak_rss:.0f} MB")
    print(
        json.dumps(
            {
                "variants": n,
                "batch_wall_s": round(batch_wall, 2),
                "naive_wall_s": round(naive_wall, 2),
                "speedup_vs_naive": round(naive_wall / batch_wall, 2),
                "node_executions": totals["node_executions"],
                "node_executions_naive": totals["node_executions_naive"],
                "encoded_frames": totals["encoded_frames"],
                "encoded_frames_naive": totals["encoded_frames_naive"],
                "variant_cost_ratio": round(ratio, 3),
                "disk_mb_per_variant": round(disk_mb / n, 2),
                "ray_wall_s": round(ray_wall, 2) if ray_wall is not None else None,
                "ray_workers": 2 if ray_wall is not None else 0,
                "ray_vs_local": round(ray_wall / batch_wall, 2) if ray_wall is not None else None,
                "peak_rss_mb": round(peak_rss, 1),
                "ray_joined_wall_s": round(joined_wall, 2) if joined_wall is not None else None,
                "ray_joined_vs_local": (
                    round(joined_wall / batch_wall, 2) if joined_wall is not None else None
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
