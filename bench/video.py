"""Media pipeline benchmark: memory stays flat while streaming a long video, and how
fast the pipeline runs.

(a) A synthetic 1280x720, 24 fps video (10 minutes; `--quick`: 24 s) rendered by the
    engine through Ken Burns motion, a text overlay, an AI label and the H.264 encoder.
    Peak RSS is sampled after 1/10, 1/2 and all of the output (1, 5 and 10 minutes for
    the full run) -- a streamed pipeline keeps it flat -- and end-to-end frames per second
    are measured.
(b) The explainer workflow: wall time divided by the length of its narration.
(c) Real lengths: the explainer on a long built-in article (bench/data/long_article.md,
    40 scenes, about 12 minutes of narration; `--quick`: its first 8 scenes) and on its
    own short script, each in a fresh process with a fresh cache, for peak RSS and the
    real-time ratio.

Prints figures, then one JSON line (the last line) with rss_mb_1min, rss_mb_5min,
rss_mb_10min, fps_720p, explainer_realtime_ratio, long_minutes, long_scenes,
long_peak_rss_mb, long_realtime_ratio, short_peak_rss_mb, fps_1080p (and per preset
fps/PSNR for the real explainer frames).
(d) The explainer's real frames (its finished picture, 720p and 1080p) rendered and
    encoded at CRF 20: fps for ultrafast, superfast and veryfast, and PSNR of each
    against the rendered frames, so the preset choice is measured, not guessed.
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
    import torch

    from reelgraph.engine import Engine, Registry, loads_workflow

    torch.set_num_threads(1)
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
        "fps_720p": round(frames / encode_s, 1),
        "synthetic_seconds": seconds,
        "synthetic_wall_s": round(wall, 2),
    }


def bench_explainer(out: Path) -> dict:
    import av

    from reelgraph.engine import Engine, Registry, load_workflow

    with Engine(Registry.discover()) as eng:
        t0 = time.perf_counter()
        res = eng.run(
            load_workflow(ROOT / "reelgraph" / "workflows" / "explainer.json"), out_dir=out
        )
        wall = time.perf_counter() - t0
    if res.status != "finished":
        raise SystemExit(f"explainer failed: {[str(f) for f in res.failed.values()]}")
    with av.open(res.outputs["encode"]["path"]) as c:
        narration = float(c.duration / 1e6)
    ratio = wall / narration
    print(
        f"  explainer: {wall:.1f}s wall for {narration:.1f}s of narration: ratio {ratio:.2f} "
        f"(per node: {', '.join(f'{k} {v:.1f}s' for k, v in res.timings.items() if v > 0.05)})"
    )
    return {
        "explainer_realtime_ratio": round(ratio, 3),
        "explainer_wall_s": round(wall, 2),
        "narration_s": round(narration, 2),
    }


def explainer_stream(width: int, height: int):
    """The explainer's finished picture (the stream the Encode node gets), at a size."""
    from reelgraph.engine import Cache, Engine, Registry, loads_workflow

    doc = json.loads((ROOT / "reelgraph" / "workflows" / "explainer.json").read_text())
    doc["nodes"]["clip"]["inputs"].update({"width": width, "height": height})
    with Engine(Registry.discover(), Cache()) as eng:
        res = eng.run(loads_workflow(json.dumps(doc)), targets=["fade"])
    if res.status != "finished":
        raise SystemExit(f"explainer failed: {[str(f) for f in res.failed.values()]}")
    return res.outputs["fade"]["video"]


def psnr_vs_source(video, path: Path) -> float:
    import av
    import numpy as np

    src = iter(video.chunks(16))
    buf = None
    err, count = 0.0, 0
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            if buf is None or not len(buf):
                buf = next(src).numpy()
            ref, buf = buf[0], buf[1:]
            d = f.to_ndarray(format="rgb24").astype(np.float32) - ref.astype(np.float32)
            err += float(np.mean(d * d))
            count += 1
    mse = err / max(1, count)
    return round(10 * np.log10(255**2 / max(mse, 1e-9)), 2)


def bench_real_frames(out: Path, frames: int) -> dict:
    """Render + encode the explainer's real frames: fps at 720p and 1080p, and the
    quality of the x264 presets at CRF 20 (PSNR against the rendered frames)."""
    from reelgraph.media import IndexedVideo, encode_video

    result: dict = {}
    for label, (w, h) in (("720p", (1280, 720)), ("1080p", (1920, 1080))):
        full = explainer_stream(w, h)
        v = IndexedVideo(full, range(min(frames, full.frame_count)))
        presets = ("ultrafast", "superfast", "veryfast") if label == "720p" else ("veryfast",)
        for preset in presets:
            t0 = time.perf_counter()
            stats = encode_video(v, out / f"{label}-{preset}.mp4", crf=20, preset=preset)
            fps = v.frame_count / (time.perf_counter() - t0)
            q = psnr_vs_source(v, stats.path)
            size = stats.path.stat().st_size / 2**20
            print(f"  {label} {preset:9s} CRF 20: {fps:6.1f} fps, PSNR {q:.2f} dB, {size:.2f} MB")
            result[f"fps_{label}_{preset}"] = round(fps, 1)
            result[f"psnr_{label}_{preset}"] = q
        result[f"fps_{label}"] = result[f"fps_{label}_veryfast"]
    result["real_frames"] = frames
    result["crf"] = 20
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

    from reelgraph.engine import Engine, Registry, load_workflow

    params = {"script": Path(script_file).read_text()} if script_file else {}
    with Engine(Registry.discover()) as eng:
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
        "encoded_frames": res.outputs["encode"].get("encoded_frames"),
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
        f"  short explainer: {short['seconds']:.1f}s of video in {short['wall_s']:.1f}s, "
        f"peak RSS {short['peak_rss_mb']:.0f} MB"
    )
    script = article_scenes(long_scenes)
    scenes = script.count("\n# ") + 1
    long = child(script, "long")
    print(
        f"  long article ({scenes} scenes): {long['seconds'] / 60:.1f} min of video in "
        f"{long['wall_s']:.1f}s, peak RSS {long['peak_rss_mb']:.0f} MB "
        f"(per node: {long['timings']})"
    )
    return {
        "long_minutes": round(long["seconds"] / 60, 2),
        "long_scenes": scenes,
        "long_peak_rss_mb": long["peak_rss_mb"],
        "long_realtime_ratio": round(long["wall_s"] / long["seconds"], 3),
        "short_peak_rss_mb": short["peak_rss_mb"],
        "short_realtime_ratio": round(short["wall_s"] / short["seconds"], 3),
        "long_vs_short_rss": round(long["peak_rss_mb"] / short["peak_rss_mb"], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    ap.add_argument(
        "--quick", action="store_true", help="24 s synthetic video instead of 10 minutes"
    )
    ap.add_argument("--seconds", type=float, default=None, help="length of the synthetic video")
    ap.add_argument("--skip-explainer", action="store_true")
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
    seconds = args.seconds or (24.0 if args.quick else 600.0)
    result: dict = {"quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="reelgraph-bench-") as tmp:
        print(f"(a) synthetic {seconds:g}s 1280x720 24 fps: Ken Burns + overlay + label + H.264")
        result.update(bench_synthetic(seconds, Path(tmp) / "synthetic"))
        if not args.skip_explainer:
            print("(b) explainer workflow")
            result.update(bench_explainer(Path(tmp) / "explainer"))
        if not args.skip_real:
            frames = 240 if args.quick else 100_000
            print(f"(d) the explainer's real frames: render + encode ({frames} frames at most)")
            result.update(bench_real_frames(Path(tmp) / "real", frames))
        if not args.skip_long:
            scenes = args.long_scenes or (8 if args.quick else None)
            print(f"(c) real lengths: the explainer on the long article ({scenes or 'all'} scenes)")
            result.update(bench_lengths(Path(tmp) / "lengths", scenes))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
