"""Media pipeline benchmark: memory stays flat at real lengths, and how fast the
explainer renders and encodes.

(a) A synthetic 1280x720, 24 fps video (10 minutes; `--quick`: 6 s) rendered by the
    engine through Ken Burns motion, a text overlay, an AI label and the H.264 encoder:
    peak RSS after 1/10, 1/2 and all of the output, and frames per second.
(b) Real lengths: the shipped explainer cold (fresh process, empty cache) on its own
    script, and on a long built-in article (bench/data/long_article.md, 40 scenes,
    about 12 minutes of narration; `--quick`: its first 2 scenes): peak RSS and wall
    time over video length.
(c) The explainer's real frames (its finished picture) at 720p and 1080p, rendered and
    encoded with the preset and CRF it ships with: fps, PSNR and SSIM against the
    rendered frames and the bit rate; at 720p the same for the previous setting
    (veryfast, CRF 20), so the preset choice is measured, not guessed.

The last line is one JSON object: rss_mb_1min, rss_mb_5min, rss_mb_10min, fps_720p,
fps_1080p (real frames), explainer_realtime_ratio, long_minutes, long_scenes,
long_peak_rss_mb, long_realtime_ratio, short_peak_rss_mb, the per-preset figures, and
the load average at the start and end (the machine may be shared: say so with figures).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads): on a shared machine
    the CPU a run needs is steadier than its wall time."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def synthetic_workflow(seconds: float) -> dict:
    def n(t, inputs, x):
        return {"type": t, "type_version": 1, "inputs": inputs, "ui": {"pos": [x, 100]}}

    return {
        "format": "reelgraph.workflow",
        "version": 1,
        "name": "bench: synthetic 720p",
        "nodes": {
            "card": n(
                "slides.TitleCard",
                {
                    "title": "Streaming benchmark",
                    "body": "Ken Burns, overlay and H.264, frame by frame.",
                    "width": 1600,
                    "height": 900,
                },
                0,
            ),
            "clip": n(
                "video.ImageToClip",
                {
                    "image": {"from": "card", "output": "image"},
                    "duration": seconds,
                    "fps": 24.0,
                    "width": 1280,
                    "height": 720,
                    "zoom_start": 1.0,
                    "zoom_end": 1.25,
                    "pan_x": 0.5,
                },
                250,
            ),
            "text": n(
                "video.OverlayText",
                {
                    "video": {"from": "clip", "output": "video"},
                    "text": "reelgraph bench",
                    "position": "bottom_left",
                },
                500,
            ),
            "label": n("provenance.AILabel", {"video": {"from": "text", "output": "video"}}, 750),
            "encode": n(
                "video.Encode",
                {
                    "video": {"from": "label", "output": "video"},
                    "filename": "synthetic",
                    "crf": 23,
                    "preset": "ultrafast",
                },
                1000,
            ),
        },
    }


def bench_synthetic(seconds: float, out: Path) -> dict:
    from reelgraph.engine import Engine, Registry, loads_workflow

    fps = 24.0
    marks = {"rss_mb_1min": seconds * 0.1, "rss_mb_5min": seconds * 0.5, "rss_mb_10min": seconds}
    got: dict[str, float] = {}
    current: dict[str, float] = {}
    state = {"t_first": None}

    def listener(ev) -> None:
        if ev.type != "node.progress" or ev.node_id != "encode":
            return
        if state["t_first"] is None:
            state["t_first"] = time.perf_counter()
        done_s = ev.data["value"] / fps
        for key, at in marks.items():
            if key not in got and done_s >= at - 1e-9:
                got[key] = peak_rss_mb()
                current[key] = current_rss_mb()
                print(
                    f"  after {done_s:7.1f}s of output: peak RSS {got[key]:7.1f} MB "
                    f"(now {current[key]:.1f} MB)",
                    flush=True,
                )

    with Engine(Registry.discover()) as eng:
        t0 = time.perf_counter()
        res = eng.run(
            loads_workflow(json.dumps(synthetic_workflow(seconds))), out_dir=out, listener=listener
        )
        wall = time.perf_counter() - t0
    if res.status != "finished":
        raise SystemExit(f"synthetic render failed: {[str(f) for f in res.failed.values()]}")
    frames = round(seconds * fps)
    encode_s = res.timings.get("encode", wall)
    size = Path(res.outputs["encode"]["path"]).stat().st_size
    print(
        f"  {frames} frames in {wall:.1f}s wall ({encode_s:.1f}s streaming): "
        f"{frames / encode_s:.1f} fps end to end; file {size / 2**20:.1f} MB"
    )
    return {
        **{k: round(v, 1) for k, v in got.items()},
        "synthetic_fps_720p": round(frames / encode_s, 1),
        "synthetic_seconds": seconds,
        "synthetic_wall_s": round(wall, 2),
    }


def explainer_stream(width: int, height: int, cache_dir: Path | None):
    """The explainer's finished picture (the stream the Encode node gets), at a size.
    With `cache_dir` (the cold run's cache) cards and speech are read back, not redone."""
    from reelgraph.engine import Cache, DiskCache, Engine, Registry, loads_workflow

    doc = json.loads((ROOT / "reelgraph" / "workflows" / "explainer.json").read_text())
    doc["nodes"]["clip"]["inputs"].update({"width": width, "height": height})
    if width > doc["nodes"]["card"]["inputs"]["width"]:  # cards drawn at the video's size
        doc["nodes"]["card"]["inputs"].update({"width": width, "height": height})
    cache = Cache(disk=DiskCache(cache_dir)) if cache_dir is not None else Cache()
    with Engine(Registry.discover(), cache) as eng:
        res = eng.run(loads_workflow(json.dumps(doc)), targets=["fade"])
    if res.status != "finished":
        raise SystemExit(f"explainer failed: {[str(f) for f in res.failed.values()]}")
    return res.outputs["fade"]["video"], doc["nodes"]["encode"]["inputs"]


def ssim_y(a, b) -> float:
    """SSIM of two luma planes (Gaussian window 11, sigma 1.5, as in Wang et al.)."""
    import cv2
    import numpy as np

    a, b = a.astype(np.float32), b.astype(np.float32)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x):
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    ma, mb = blur(a), blur(b)
    vaa, vbb, vab = blur(a * a) - ma * ma, blur(b * b) - mb * mb, blur(a * b) - ma * mb
    m = ((2 * ma * mb + c1) * (2 * vab + c2)) / ((ma * ma + mb * mb + c1) * (vaa + vbb + c2))
    return float(m.mean())


def quality_vs_source(video, path: Path) -> tuple[float, float]:
    """PSNR (RGB, dB) and SSIM (luma, every 4th frame) of an encoded file against the
    frames it was made from."""
    import av
    import cv2
    import numpy as np

    src = iter(video.arrays(8))
    buf = None
    err, count, ssims = 0.0, 0, []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            if buf is None or not len(buf):
                buf = next(src)
            ref, buf = buf[0], buf[1:]
            got = f.to_ndarray(format="rgb24")
            d = got.astype(np.float32) - ref.astype(np.float32)
            err += float(np.mean(d * d))
            if count % 4 == 0:
                y = [cv2.cvtColor(x, cv2.COLOR_RGB2YUV)[..., 0] for x in (got, ref)]
                ssims.append(ssim_y(*y))
            count += 1
    mse = err / max(1, count)
    return round(10 * np.log10(255**2 / max(mse, 1e-9)), 2), round(float(np.mean(ssims)), 4)


REFERENCE = ("veryfast", 20)  # the preset and CRF the explainer used before


def bench_real_frames(out: Path, frames: int, cache_dir: Path | None) -> dict:
    """Render + encode the explainer's real frames (its finished picture) at 720p and
    1080p with the settings it ships with: fps, and PSNR / SSIM against the rendered
    frames; at 720p also the reference preset, so the choice is measured, not guessed."""
    from reelgraph.media import IndexedVideo, encode_video

    result: dict = {}
    for label, (w, h) in (("720p", (1280, 720)), ("1080p", (1920, 1080))):
        full, enc = explainer_stream(w, h, cache_dir)
        shipped = (enc["preset"], int(enc["crf"]))
        # a run of frames around the first scene cut (a hold, the crossfade, the next
        # scene's motion); a selection must be contiguous, or every frame between the
        # picks is rendered too
        n, total = min(frames, full.frame_count), full.frame_count
        cuts = full.cut_points()
        a = max(0, min(total - n, (cuts[0] if cuts else total // 2) - n // 2))
        v = IndexedVideo(full, range(a, a + n)) if n < total else full
        runs = [shipped] + ([REFERENCE] if label == "720p" and shipped != REFERENCE else [])
        for preset, crf in runs:
            next(iter(v.arrays(1)))  # first use of the stream's imports, not timed
            t0 = time.perf_counter()
            stats = encode_video(v, out / f"{label}-{preset}.mp4", crf=crf, preset=preset)
            fps = v.frame_count / (time.perf_counter() - t0)
            psnr, ssim = quality_vs_source(v, stats.path)
            mbit = stats.path.stat().st_size * 8 / 1e6 / v.duration
            print(
                f"  {label} {preset:9s} CRF {crf}: {fps:6.1f} fps (render + encode), "
                f"PSNR {psnr:.2f} dB, SSIM {ssim:.4f}, {mbit:.2f} Mbit/s"
            )
            tag = f"{label}_{preset}_crf{crf}"
            result.update({f"fps_{tag}": round(fps, 1), f"psnr_{tag}": psnr})
            result.update({f"ssim_{tag}": ssim, f"mbit_{tag}": round(mbit, 2)})
            if (preset, crf) == shipped:
                result[f"fps_{label}"] = round(fps, 1)
    result["real_frames"] = min(frames, full.frame_count)
    result["preset"], result["crf"] = shipped
    return result


LONG_ARTICLE = ROOT / "bench" / "data" / "long_article.md"


def article_scenes(count: int | None) -> str:
    """The long article's first `count` scenes (all when None)."""
    parts = [p.strip() for p in ("\n" + LONG_ARTICLE.read_text()).split("\n# ") if p.strip()]
    return "\n\n".join("# " + p for p in (parts[:count] if count else parts)) + "\n"


def run_explainer_child(script_file: str | None, out: Path) -> dict:
    """One explainer render in this process (called in a fresh child): wall, narration
    length, scenes and peak RSS."""
    import av

    from reelgraph.engine import Cache, DiskCache, Engine, MemoryCache, Registry, load_workflow
    from reelgraph.engine.cache import default_cache_dir

    params = {"script": Path(script_file).read_text()} if script_file else {}
    # The cache `reelgraph run` uses: a memory tier over a disk tier (here an empty
    # folder per child, so the run is cold).
    cache = Cache(MemoryCache(), DiskCache(default_cache_dir()))
    with Engine(Registry.discover(), cache) as eng:
        t0 = time.perf_counter()
        res = eng.run(
            load_workflow(ROOT / "reelgraph" / "workflows" / "explainer.json"),
            params=params,
            out_dir=out,
        )
        wall = time.perf_counter() - t0
    if res.status != "finished":
        raise SystemExit(f"explainer failed: {[str(f) for f in res.failed.values()]}")
    with av.open(res.outputs["encode"]["path"]) as c:
        seconds = float(c.duration / 1e6)
    return {
        "wall_s": round(wall, 2),
        "seconds": round(seconds, 2),
        "scenes": len(res.outputs.get("split", {}).get("scenes", [])) or None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "cpu_s": round(cpu_seconds(), 2),
        "encoded_frames": res.outputs["encode"].get("encoded_frames"),
        "torch_imported": "torch" in sys.modules,
        "timings": {k: round(v, 2) for k, v in res.timings.items() if v > 0.05},
    }


def bench_lengths(out: Path, long_scenes: int | None) -> dict:
    """The explainer on its own script and on the long article, each in a fresh process."""

    def child(script: str | None, name: str) -> dict:
        cmd = [sys.executable, __file__, "--child-explainer", str(out / name)]
        if script is not None:
            path = out / f"{name}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(script)
            cmd += ["--script", str(path)]
        env = {**os.environ, "REELGRAPH_CACHE_DIR": str(out / f"{name}-cache")}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        if done.returncode != 0:
            raise SystemExit(f"{name} run failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    short = child(None, "short")
    print(
        f"  short explainer: {short['seconds']:.1f}s of video in {short['wall_s']:.1f}s "
        f"({short['cpu_s']:.1f} s of CPU), peak RSS {short['peak_rss_mb']:.0f} MB "
        f"(per node: {short['timings']})"
    )
    script = article_scenes(long_scenes)
    scenes = script.count("\n# ") + 1
    long = child(script, "long")
    print(
        f"  long article ({scenes} scenes): {long['seconds'] / 60:.1f} min of video in "
        f"{long['wall_s']:.1f}s ({long['cpu_s']:.1f} s of CPU), peak RSS "
        f"{long['peak_rss_mb']:.0f} MB "
        f"(per node: {long['timings']})"
    )
    return {
        "long_minutes": round(long["seconds"] / 60, 2),
        "long_scenes": scenes,
        "long_peak_rss_mb": long["peak_rss_mb"],
        "long_realtime_ratio": round(long["wall_s"] / long["seconds"], 3),
        "short_peak_rss_mb": short["peak_rss_mb"],
        "short_realtime_ratio": round(short["wall_s"] / short["seconds"], 3),
        "explainer_cpu_s": short["cpu_s"],
        "long_cpu_s": long["cpu_s"],
        # the shipped explainer, cold: a fresh process and an empty cache
        "explainer_realtime_ratio": round(short["wall_s"] / short["seconds"], 3),
        "long_vs_short_rss": round(long["peak_rss_mb"] / short["peak_rss_mb"], 2),
        "explainer_imports_torch": short["torch_imported"] or long["torch_imported"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="under a minute on an idle machine: 6 s synthetic, 2 scenes of the article, 48 real frames",
    )
    ap.add_argument("--seconds", type=float, default=None, help="length of the synthetic video")
    ap.add_argument("--skip-long", action="store_true")
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument(
        "--long-scenes", type=int, default=None, help="scenes of the long article (default: all)"
    )
    ap.add_argument("--child-explainer", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--script", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_explainer:
        print(json.dumps(run_explainer_child(args.script, Path(args.child_explainer))))
        return
    seconds = args.seconds or (6.0 if args.quick else 600.0)
    t_bench = time.perf_counter()
    result: dict = {"quick": args.quick, "load_avg_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="reelgraph-bench-") as tmp:
        print(f"(a) synthetic {seconds:g}s 1280x720 24 fps: Ken Burns + overlay + label + H.264")
        result.update(bench_synthetic(seconds, Path(tmp) / "synthetic"))
        cache_dir = None
        if not args.skip_long:
            scenes = args.long_scenes or (2 if args.quick else None)
            print(
                f"(b) real lengths: the explainer cold on its own script and on the long "
                f"article ({scenes or 'all'} scenes), each in a fresh process"
            )
            result.update(bench_lengths(Path(tmp) / "lengths", scenes))
            cache_dir = Path(tmp) / "lengths" / "short-cache"
        if not args.skip_real:
            frames = 48 if args.quick else 100_000
            print(f"(c) the explainer's real frames: render + encode ({frames} frames at most)")
            result.update(bench_real_frames(Path(tmp) / "real", frames, cache_dir))
    result["load_avg_end"] = round(os.getloadavg()[0], 2)
    # the bench's own time, and its CPU time with its child processes (on a shared
    # machine the CPU is the steadier figure: an idle 2-core machine needs about half)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["bench_wall_s"] = round(time.perf_counter() - t_bench, 1)
    result["bench_cpu_s"] = round(cpu_seconds() + kids.ru_utime + kids.ru_stime, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
