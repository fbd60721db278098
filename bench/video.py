"""Media pipeline benchmark: memory stays flat while streaming a long video, and how
fast the pipeline runs.

(a) A synthetic 1280x720, 24 fps video (10 minutes; `--quick`: 24 s) rendered by the
    engine through Ken Burns motion, a text overlay, an AI label and the H.264 encoder.
    Peak RSS is sampled after 1/10, 1/2 and all of the output (1, 5 and 10 minutes for
    the full run) -- a streamed pipeline keeps it flat -- and end-to-end frames per second
    are measured.
(b) The explainer workflow: wall time divided by the length of its narration.

Prints figures, then one JSON line (the last line) with rss_mb_1min, rss_mb_5min,
rss_mb_10min, fps_720p and explainer_realtime_ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="24 s synthetic video instead of 10 minutes"
    )
    ap.add_argument("--seconds", type=float, default=None, help="length of the synthetic video")
    ap.add_argument("--skip-explainer", action="store_true")
    args = ap.parse_args()
    seconds = args.seconds or (24.0 if args.quick else 600.0)
    result: dict = {"quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="reelgraph-bench-") as tmp:
        print(f"(a) synthetic {seconds:g}s 1280x720 24 fps: Ken Burns + overlay + label + H.264")
        result.update(bench_synthetic(seconds, Path(tmp) / "synthetic"))
        if not args.skip_explainer:
            print("(b) explainer workflow")
            result.update(bench_explainer(Path(tmp) / "explainer"))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
