"""Batch benchmark: N personalised variants of a short explainer, against N separate runs.

The workflow is docs/examples/greetings.json (three scenes; each row changes only the
first scene's title and narration, through {name} and {city}). Measured in one run:

(a) batch_wall_s: `reelgraph batch` of the N rows (local executor, 2 rows at a time),
    fresh disk cache; node executions and encoded frames from its summary, against
    what N cold, independent runs would do (node_executions_naive, encoded_frames_naive).
(b) naive_wall_s: the same N rows as N `reelgraph run --set ...` processes one after
    the other, sharing a fresh disk cache (what a shell loop does today). naive_cpu_s:
    their CPU seconds; speedup_cpu_vs_naive = naive_cpu_s / batch_cpu_s (the local
    batch's CPU seconds), the same comparison in a measure that a busy machine moves
    much less than the wall times.
(c) variant_cost_ratio: in one process with its models loaded, the wall of a variant
    rendered after other rows (only scene 1 differs) over a cold render of it
    (medians of 5 each, measured in pairs: a variant, then the same row cold, with an
    empty cache and none of the voice's pieces kept, nodes/spoken_pieces.py);
    variant_cost_ratio_cpu: the same with the process's CPU seconds over each render.
(d) disk_mb_per_variant: the batch's disk cache folder size / N.
(e) ray_wall_s: the same batch with `--executor ray`: a local Ray of 2 CPUs that the
    batch starts (in the background, while its driver renders rows) and stops;
    ray_vs_local = ray_wall_s / batch_wall_s; ray_rows: how many rows ran on Ray's
    worker (the RowWorker), the others on the driver, which takes rows while Ray
    starts and, on a Ray of its own, beside its worker. Full run only:
    ray_joined_wall_s, the batch joining a Ray started beforehand with `ray start
    --head` (not timed), ray_joined_vs_local and ray_joined_rows (rows as Ray
    tasks). Both Rays keep to a RAY_TMPDIR of the bench's own.
    batch_cpu_s: CPU seconds (user + system) of the local batch process; ray_cpu_s:
    those of the Ray batch's whole process tree, sampled with psutil; ray_cpu_by_kind
    splits them into the driver, Ray's workers (rows, warm-ups) and Ray's own
    processes (GCS, raylet, its agents; a Ray the batch starts has no monitors or API
    server, see executors/ray_lean.py). On a shared machine the wall times swing with
    what else runs; the CPU seconds much less.
(f) peak_rss_mb: peak resident memory of the batch process.
(g) repeat_*: a customer list as it comes (40 rows, --quick 6: each one of 10 first
    names and one of 8 cities, so rows share sentences of the greeting but rarely a
    whole row), as a local batch from an empty cache, with the pieces the voice has
    said re-used (nodes/spoken_pieces.py) and with every piece spoken anew
    (REELGRAPH_SPOKEN_PIECES=0): repeat_wall_s, repeat_wall_s_pieces_off,
    repeat_speedup (their ratio), repeat_cpu_s and repeat_cpu_s_pieces_off.

Repeats (full run: 5, `--repeat`; --quick: 1): (a), (b) and (e) run that many times,
interleaved (a batch, the N runs, the Ray batch, then again), each from an empty cache;
batch_wall_s, naive_wall_s, ray_wall_s and the CPU seconds are the medians, and
speedup_vs_naive, ray_vs_local and the CPU ratios are ratios of medians. The machine's
speed drifts by tens of percent over minutes, so one sample of each measured the drift
as much as the batch, and with 3 the local batch's samples in one run still spread
from 6.5 to 7.55 s (a shared AMD EPYC host). The samples are in *_runs.

Each line says when it was printed (seconds since the bench started); bench_wall_s is
the whole bench. `--quick`: 2 variants at 160x90, 2 fps, (c) from one render of each
kind: under a minute on 2 cores. Most of it is fixed cost: starting processes, and in
(e) a cold local Ray (3-5 s on 2 busy cores: its control processes each import
Ray): the driver renders both rows before that Ray is up, and the batch still waits
for it to start before it stops it. The full run: 20 variants at 320x180, 12 fps.
Wall times on a shared machine are noisy. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
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


def _customer_rows(n: int, quick: bool) -> list[dict[str, object]]:
    """A customer list as it comes: first names and cities repeat (each row draws one
    of 10 first names and one of 8 cities, seeded), so rows share whole sentences of
    the greeting's first scene ("Hi Ada!", "... in Leeds.") but rarely the whole row."""
    import random

    rng = random.Random(11)
    names = [name for name, _ in PEOPLE[:10]]
    cities = [city for _, city in PEOPLE[:8]]
    size = _size_params(quick)
    return [{"name": rng.choice(names), "city": rng.choice(cities), **size} for _ in range(n)]


def _write_rows(path: Path, rows: list[dict[str, object]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def _repeated_names(tmp: Path, quick: bool) -> tuple[int, float, float, float, float]:
    """(rows, wall, wall with every piece spoken by the model, CPU, CPU likewise) of a
    local batch of a customer list (`_customer_rows`): what re-using the pieces the
    voice has said (nodes/spoken_pieces.py) saves on real lists. The run without is
    REELGRAPH_SPOKEN_PIECES=0; both start from an empty cache."""
    rows = _customer_rows(6 if quick else 40, quick)
    rows_csv = _write_rows(tmp / "customers.csv", rows)
    out: dict[str, tuple[float, float]] = {}
    for tag, flag in (("pieces-off", "0"), ("pieces", "1")):
        cpu = _children_cpu()
        wall, _, _, _ = _batch(
            tmp, rows_csv, f"customers-{tag}", "--workers", "2",
            env={**os.environ, "REELGRAPH_SPOKEN_PIECES": flag},
        )  # fmt: skip
        out[tag] = (wall, _children_cpu() - cpu)
    return len(rows), out["pieces"][0], out["pieces-off"][0], out["pieces"][1], out["pieces-off"][1]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "reelgraph.engine.cli", *args]


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


T0 = time.perf_counter()


def _say(text: str) -> None:
    """A line now (not when the bench ends: stdout is often a pipe), with the time since
    the bench started."""
    print(f"[{time.perf_counter() - T0:6.1f} s] {text}", flush=True)


def _process_kind(cmdline: list[str]) -> str:
    """driver (the batch process), worker (a Ray worker: rows, warm-ups), or ray (Ray's
    own control processes: GCS, raylet, dashboard, agents, monitors)."""
    text = " ".join(cmdline)
    if "reelgraph.engine.cli" in text:
        return "driver"
    if "DashboardAgent" in text or "RuntimeEnvAgent" in text:
        return "ray"
    if text.startswith("ray::") or "default_worker.py" in text:
        return "worker"
    return "ray"


class TreeCpu:
    """CPU seconds (user + system) of a process and all its descendants, by kind,
    sampled every 0.1 s with psutil while it runs (wall times on a shared machine
    are noisy; CPU seconds much less). A process that ends between two samples
    loses at most its last 0.1 s."""

    def __init__(self, pid: int):
        import threading

        self.pid = pid
        self.seen: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for p in procs:
                try:
                    t = p.cpu_times()
                    cmdline = p.cmdline()
                    if cmdline:
                        kind = _process_kind(cmdline)
                    elif p.pid in self.seen:  # one that is ending shows no command line
                        kind = self.seen[p.pid][0]
                    else:
                        continue
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                self.seen[p.pid] = (kind, t.user + t.system)
            self._stop.wait(0.1)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        kinds = {"driver": 0.0, "worker": 0.0, "ray": 0.0}
        for kind, cpu in self.seen.values():
            kinds[kind] += cpu
        return {k: round(v, 2) for k, v in kinds.items()}


def _batch(
    tmp: Path, rows_csv: Path, tag: str, *extra: str, env: dict[str, str] | None = None
) -> tuple[float, dict, Path, dict[str, float]]:
    """Wall seconds, the JSON summary (with "rows_elsewhere": rows that ran in another
    process than the batch's, on Ray's workers), the cache folder, and CPU seconds
    by kind."""
    out, cache = tmp / f"out-{tag}", tmp / f"cache-{tag}"
    t = time.perf_counter()
    proc = subprocess.Popen(
        _cli("batch", str(WORKFLOW), str(rows_csv), "--out", str(out), "--cache-dir", str(cache),
             "--json", "-q", *extra),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    cpu = TreeCpu(proc.pid)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t
    cpu_s = cpu.stop()
    if proc.returncode != 0:
        raise SystemExit(f"batch {tag} failed ({proc.returncode}):\n{stderr[-3000:]}")
    summary = json.loads(stdout.strip().splitlines()[-1])
    summary["rows_elsewhere"] = sum(
        1 for r in summary["rows"] if str(r.get("worker", "")).rpartition(":")[2] != str(proc.pid)
    )
    return wall, summary, cache, cpu_s


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _naive(tmp: Path, rows: list[dict[str, object]], tag: str = "") -> tuple[float, int, float]:
    """Wall seconds, plan nodes executed, and CPU seconds of the N processes (from an
    empty cache of their own, `tag`)."""
    cache = tmp / f"cache-naive{tag}"
    executed = 0
    cpu = _children_cpu()
    t = time.perf_counter()
    for i, row in enumerate(rows):
        sets = [a for k, v in row.items() for a in ("--set", f"{k}={v}")]
        proc = subprocess.run(
            _cli("run", str(WORKFLOW), *sets, "--out", str(tmp / f"naive{tag}-{i}"),
                 "--cache-dir", str(cache), "--json", "-q"),
            capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            raise SystemExit(f"run {i} failed:\n{proc.stderr[-3000:]}")
        executed += len(json.loads(proc.stdout.strip().splitlines()[-1])["executed"])
    return time.perf_counter() - t, executed, _children_cpu() - cpu


def _variant_cost(tmp: Path, quick: bool) -> tuple[float, float, float, float]:
    """(variant wall, cold wall, ratio, CPU ratio) in this process, models already
    loaded: the median of 5 one-scene variants (each after the rows before it, sharing
    a cache) over the median of 5 cold renders of those rows (each with an empty
    cache). One sample of each swings by 2x on a shared 2-core machine. The CPU ratio:
    the same medians of this process's CPU seconds (all its threads) over each
    render, which swing much less. --quick: one of each."""

    from reelgraph.engine import Cache, Engine, MemoryCache, Registry
    from reelgraph.engine.workflow import load_workflow
    from reelgraph.nodes.spoken_pieces import SPOKEN

    wf = load_workflow(WORKFLOW)
    size = _size_params(quick)
    # One registry, as a session that renders again has (the editor's server, a
    # batch): finding the node packs anew took ~8 ms of every render.
    registry = Registry.discover()

    def render(cache: Cache, name: str, city: str) -> tuple[float, float]:
        with Engine(registry, cache=cache, out_dir=tmp / f"variant-{name}") as engine:
            t, cpu = time.perf_counter(), time.process_time()
            result = engine.run(wf, params={"name": name, "city": city, **size})
            wall, cpu = time.perf_counter() - t, time.process_time() - cpu
        assert result.ok, result.failed
        return wall, cpu

    shared = Cache(MemoryCache())
    render(shared, *PEOPLE[0])  # unmeasured: also loads the voice model and imports
    variants: list[tuple[float, float]] = []
    colds: list[tuple[float, float]] = []
    # In pairs: each row as a variant (scene 1 differs from the rows before, scenes 2-3
    # are cached), then the same row cold. A shared machine's speed drifts by tens of
    # percent over seconds; all variants first and all cold renders after measured
    # that drift as much as the variant's cost.
    for row in PEOPLE[1 : 2 if quick else 6]:
        variants.append(render(shared, *row))
        # cold: an empty cache, and none of the pieces the voice has said kept either
        # (the variant just said this row's sentences: spoken_pieces.py)
        SPOKEN.clear()
        colds.append(render(Cache(MemoryCache()), *row))
    variant, cold = (statistics.median(w for w, _ in v) for v in (variants, colds))
    variant_cpu, cold_cpu = (statistics.median(c for _, c in v) for v in (variants, colds))
    return variant, cold, variant / cold, variant_cpu / cold_cpu


def _ray_env(ray_tmp: Path) -> dict[str, str]:
    """The bench's Rays keep to a temp folder of their own (RAY_TMPDIR): the address
    file `ray start` writes there is not seen by other Rays on the machine (another
    engineer's batch would join this one), nor theirs by the bench."""
    return {**os.environ, "RAY_TMPDIR": str(ray_tmp), "RAY_USAGE_STATS_ENABLED": "0"}


def _joined_ray_batch(tmp: Path, rows_csv: Path, ray_tmp: Path) -> tuple[float, int]:
    """The Ray batch again, on a Ray started beforehand with `ray start --head` (what
    docs/batch.md suggests for several batches on one machine; the batch finds it by
    itself, no --ray-address): its start is not in the wall time, its workers'
    warm-up and the driver's connection are. `--block`: that Ray's processes end with
    the `ray start` process, so the bench stops its own Ray only (`ray stop` stops
    every Ray on the machine)."""
    from reelgraph.engine.executors.ray_head import own_ray_head

    env = _ray_env(ray_tmp)
    try:
        with own_ray_head(env):
            wall, summary, _, _ = _batch(
                tmp, rows_csv, "ray-joined", "--executor", "ray", "--workers", "2", env=env
            )
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None
    return wall, summary["rows_elsewhere"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 variants, 160x90, 2 fps")
    ap.add_argument("--variants", type=int, default=None)
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray batch")
    ap.add_argument(
        "--repeat", type=int, default=None, help="runs of (a), (b), (e) (default 5, --quick 1)"
    )
    args = ap.parse_args()
    repeat = max(1, args.repeat or (1 if args.quick else 5))
    n = args.variants or (2 if args.quick else 20)
    rows = _rows(n, args.quick)
    size = _size_params(args.quick)
    _say(
        f"{n} variants of {WORKFLOW.name} at {size['width']}x{size['height']}, {size['fps']:g} fps"
    )
    # The Ray folder is short: Ray's Unix sockets live under it (at most 107 bytes a path).
    with (
        tempfile.TemporaryDirectory(prefix="rg-bench-batch-") as d,
        tempfile.TemporaryDirectory(prefix="rg-ray-", dir="/tmp") as ray_d,
    ):
        tmp, ray_tmp = Path(d), Path(ray_d)
        rows_csv = _write_rows(tmp / "rows.csv", rows)

        # (a), (b) and (e) `repeat` times, interleaved; medians below
        batch_walls: list[float] = []
        batch_cpus: list[float] = []
        naive_walls: list[float] = []
        naive_cpus: list[float] = []
        ray_walls: list[float] = []
        ray_cpus: list[dict[str, float]] = []
        ray_rows_runs: list[int] = []
        ray_ok = False
        if not args.no_ray:
            try:
                import ray  # noqa: F401

                ray_ok = True
            except ImportError:
                _say('(e) skipped: pip install "reelgraph[ray]"')
        for k in range(repeat):
            run = f" (run {k + 1} of {repeat})" if repeat > 1 else ""
            cpu_before = _children_cpu()
            wall, summary, cache, _ = _batch(tmp, rows_csv, f"local-{k}", "--workers", "2")
            # The local batch is one process, waited for: its CPU seconds exactly
            # (the psutil samples miss its last tenth of a second).
            batch_walls.append(wall)
            batch_cpus.append(_children_cpu() - cpu_before)
            if k == 0:  # the counts and the disk of the first batch (every run's are the same)
                peak_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
                totals = summary["totals"]
                disk_mb = _folder_mb(cache)
            _say(f"(a) batch{run}: {wall:.1f} s, CPU {batch_cpus[-1]:.1f} s; "
                 f"{totals['node_executions']} node executions "
                 f"(independent runs: {totals['node_executions_naive']}); "
                 f"{totals['encoded_frames']} frames encoded (independent: {totals['encoded_frames_naive']})")  # fmt: skip
            naive_wall, naive_executed, naive_cpu = _naive(tmp, rows, f"-{k}")
            naive_walls.append(naive_wall)
            naive_cpus.append(naive_cpu)
            _say(f"(b) {n} separate runs sharing a disk cache{run}: {naive_wall:.1f} s "
                 f"({naive_executed} plan nodes executed); speedup {naive_wall / wall:.2f}x; "
                 f"CPU {naive_cpu:.1f} s against the batch's {batch_cpus[-1]:.1f} s "
                 f"({naive_cpu / batch_cpus[-1]:.2f}x)")  # fmt: skip
            if ray_ok:
                ray_wall, ray_summary, _, cpu = _batch(
                    tmp, rows_csv, f"ray-{k}", "--executor", "ray", "--workers", "2",
                    env=_ray_env(ray_tmp),
                )  # fmt: skip
                ray_walls.append(ray_wall)
                ray_cpus.append(cpu)
                ray_rows = ray_summary["rows_elsewhere"]
                ray_rows_runs.append(ray_rows)
                _say(f"(e) Ray batch (a local Ray of 2 CPUs that it starts and stops){run}: "
                     f"{ray_wall:.1f} s, {ray_wall / wall:.2f}x the local batch; "
                     f"{ray_rows} of {n} rows on Ray's worker, the rest on the driver; "
                     f"CPU {sum(cpu.values()):.1f} s (driver {cpu['driver']:.1f}, "
                     f"Ray workers {cpu['worker']:.1f}, Ray's own processes "
                     f"{cpu['ray']:.1f}) against the local batch's "
                     f"{batch_cpus[-1]:.1f} s")  # fmt: skip
        batch_wall, batch_cpu = statistics.median(batch_walls), statistics.median(batch_cpus)
        naive_wall, naive_cpu = statistics.median(naive_walls), statistics.median(naive_cpus)
        if repeat > 1:
            _say(f"(a)-(b) medians of {repeat}: batch {batch_wall:.1f} s, {n} runs "
                 f"{naive_wall:.1f} s: speedup {naive_wall / batch_wall:.2f}x")  # fmt: skip
        variant, cold, ratio, cpu_ratio = _variant_cost(tmp, args.quick)
        _say(f"(c) one-scene variant {variant:.2f} s vs cold {cold:.2f} s: ratio {ratio:.2f} "
             f"(CPU seconds: {cpu_ratio:.2f})")  # fmt: skip
        _say(f"(d) disk cache {disk_mb:.1f} MB for {n} variants: {disk_mb / n:.2f} MB a variant")
        ray_wall = statistics.median(ray_walls) if ray_walls else None
        ray_rows = round(statistics.median(ray_rows_runs)) if ray_rows_runs else None
        ray_cpu: dict[str, float] = (
            {kind: round(statistics.median(c[kind] for c in ray_cpus), 2) for kind in ray_cpus[0]}
            if ray_cpus
            else {}
        )
        joined_wall = joined_rows = None
        if ray_ok and not args.quick:
            joined_wall, joined_rows = _joined_ray_batch(tmp, rows_csv, ray_tmp)
            _say(f"(e') Ray batch joining a Ray already running (ray start --head, "
                 f"not timed): {joined_wall:.1f} s, "
                 f"{joined_wall / batch_wall:.2f}x the local batch; "
                 f"{joined_rows} of {n} rows on Ray's workers")  # fmt: skip
        _say(f"(f) peak RSS of the batch process: {peak_rss:.0f} MB")
        rep_rows, rep_wall, rep_wall_off, rep_cpu, rep_cpu_off = _repeated_names(tmp, args.quick)
        _say(f"(g) a customer list of {rep_rows} rows with repeated first names and cities: "
             f"{rep_wall:.1f} s, {rep_wall_off:.1f} s with every sentence spoken anew "
             f"({rep_wall_off / rep_wall:.2f}x); CPU {rep_cpu:.1f} s against {rep_cpu_off:.1f} s")  # fmt: skip
    print(
        json.dumps(
            {
                "variants": n,
                "repeat": repeat,
                "batch_wall_s": round(batch_wall, 2),
                "naive_wall_s": round(naive_wall, 2),
                "speedup_vs_naive": round(naive_wall / batch_wall, 2),
                "node_executions": totals["node_executions"],
                "node_executions_naive": totals["node_executions_naive"],
                "encoded_frames": totals["encoded_frames"],
                "encoded_frames_naive": totals["encoded_frames_naive"],
                "variant_cost_ratio": round(ratio, 3),
                "variant_cost_ratio_cpu": round(cpu_ratio, 3),
                "disk_mb_per_variant": round(disk_mb / n, 2),
                "ray_wall_s": round(ray_wall, 2) if ray_wall is not None else None,
                "ray_workers": 2 if ray_wall is not None else 0,
                "ray_rows": ray_rows,
                "ray_vs_local": round(ray_wall / batch_wall, 2) if ray_wall is not None else None,
                "peak_rss_mb": round(peak_rss, 1),
                "ray_joined_wall_s": round(joined_wall, 2) if joined_wall is not None else None,
                "ray_joined_vs_local": (
                    round(joined_wall / batch_wall, 2) if joined_wall is not None else None
                ),
                "ray_joined_rows": joined_rows,
                "batch_cpu_s": round(batch_cpu, 2),
                "naive_cpu_s": round(naive_cpu, 2),
                "speedup_cpu_vs_naive": round(naive_cpu / batch_cpu, 2),
                "ray_cpu_s": round(sum(ray_cpu.values()), 2) if ray_cpu else None,
                "ray_cpu_vs_local": (
                    round(sum(ray_cpu.values()) / batch_cpu, 2) if ray_cpu else None
                ),
                "ray_cpu_by_kind": ray_cpu or None,
                "repeat_rows": rep_rows,
                "repeat_wall_s": round(rep_wall, 2),
                "repeat_wall_s_pieces_off": round(rep_wall_off, 2),
                "repeat_speedup": round(rep_wall_off / rep_wall, 2),
                "repeat_cpu_s": round(rep_cpu, 2),
                "repeat_cpu_s_pieces_off": round(rep_cpu_off, 2),
                "batch_wall_s_runs": [round(w, 2) for w in batch_walls],
                "naive_wall_s_runs": [round(w, 2) for w in naive_walls],
                "ray_wall_s_runs": [round(w, 2) for w in ray_walls] or None,
                "ray_rows_runs": ray_rows_runs or None,
                "bench_wall_s": round(time.perf_counter() - T0, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
