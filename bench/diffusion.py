"""Generative-node benchmark: node-graph overhead versus calling diffusers directly.

Builds tiny random-weight pipelines (tests/tiny_models.py) into a temporary models
folder (or uses REELGRAPH_MODELS with --models), then, in this one process:

- overhead: a one-node workflow (diffusion.TextToImage / TextToVideo) run through
  the engine versus the very same cached pipeline called directly with the same
  arguments and seed, interleaved; process CPU time, overhead_pct from the best of
  N of each side (median of paired differences and wall time beside it). The graph
  run includes planning, validation, the fingerprint of the model folder, per-step
  progress + latent previews and the conversion to IMAGE / uint8 VIDEO.
- cache_hit_ms: taking a warm pipeline from the model cache (key + fingerprint +
  pin + lock), and load_ms: the cold load through from_pretrained;
- peak_rss_mb of the process.

With a CUDA GPU, `--real-shape` also times denoiser steps at real dimensions with
random weights (SD 1.5 UNet at 512x512, LTX-Video transformer at 704x480x121).

    python bench/diffusion.py [--quick] [--real-shape]

The last line printed is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

torch.set_num_threads(1)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def workflow(node: dict) -> object:
    from reelgraph.engine import Workflow

    return Workflow({"format": "reelgraph.workflow", "version": 1, "nodes": {"gen": node}})


def overhead(engine, node_type: str, inputs: dict, direct_kwargs: dict, runs: int) -> dict:
    """Interleaved graph and direct runs of the same pipeline with the same seeds."""
    from reelgraph.engine import models as M
    from reelgraph.nodes.diffusion.loading import LoadOptions, cache_key

    def graph(seed: int) -> tuple[float, float]:
        wf = workflow({"type": node_type, "inputs": inputs | {"seed": seed}})
        t, c = time.perf_counter(), time.process_time()
        res = engine.run(wf, targets=["gen"], listener=events.append)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        assert res.status == "finished", res.failed
        return dt, dc

    events: list = []
    graph(10_000)  # warm: loads the model into the model cache
    key = cache_key(inputs["model"], LoadOptions())
    pipe = M.model_cache().peek(key).value

    def direct(seed: int) -> tuple[float, float]:
        kw = direct_kwargs | {"generator": torch.Generator().manual_seed(seed)}
        t, c = time.perf_counter(), time.process_time()
        with torch.inference_mode():
            pipe(**kw)
        return time.perf_counter() - t, time.process_time() - c

    direct(10_000)
    g, d = [], []
    for i in range(runs):  # interleaved, alternating order: drift hits both sides alike
        if i % 2:
            g.append(graph(i))
            d.append(direct(i))
        else:
            d.append(direct(i))
            g.append(graph(i))

    def best(k: int) -> tuple[float, float]:
        return min(x[k] for x in d), min(x[k] for x in g)

    def paired_median(k: int) -> tuple[float, float]:
        diffs = [a[k] - b[k] for a, b in zip(g, d, strict=True)]
        return statistics.median(x[k] for x in d), statistics.median(diffs)

    # The headline is CPU time of this process, best of N (as timeit does): other
    # processes on a shared machine only ever add time, to either side at random.
    # The median of paired differences and the wall-clock figures are printed beside it.
    bd, bg = best(1)
    md, mdiff = paired_median(1)
    wd, wdiff = paired_median(0)
    return {
        "direct_ms": round(bd * 1000, 2),
        "graph_ms": round(bg * 1000, 2),
        "overhead_ms": round((bg - bd) * 1000, 2),
        "overhead_pct": round(100 * (bg - bd) / bd, 2),
        "median_overhead_pct": round(100 * mdiff / md, 2),
        "wall_overhead_pct": round(100 * wdiff / wd, 2),
        "events_per_run": len(events) // (runs + 1),
    }


def cache_figures(model: str, repeats: int) -> dict:
    from reelgraph.engine import models as M
    from reelgraph.nodes.diffusion.loading import Loaded, LoadOptions

    M.model_cache().unload()
    t = time.perf_counter()
    with Loaded(model, LoadOptions()):
        pass
    load = time.perf_counter() - t
    hits = []
    for _ in range(repeats):
        t = time.perf_counter()
        with Loaded(model, LoadOptions()) as lm:
            lm.pipeline("t2i")
        hits.append(time.perf_counter() - t)
    return {
        "load_ms": round(load * 1000, 1),
        "cache_hit_ms": round(statistics.median(hits) * 1000, 3),
    }


def real_shape(quick: bool) -> dict:
    """Denoiser step times at real dimensions with random weights (CUDA only)."""
    if not torch.cuda.is_available():
        return {"real_shape": "skipped: no CUDA GPU"}
    from diffusers import LTXVideoTransformer3DModel, UNet2DConditionModel

    dev, dtype = "cuda", torch.float16
    out: dict = {"gpu": torch.cuda.get_device_name(0)}

    def timed(fn, n: int) -> float:
        fn()
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(n):
            fn()
        torch.cuda.synchronize()
        return (time.perf_counter() - t) / n * 1000

    with torch.inference_mode():
        unet = UNet2DConditionModel(cross_attention_dim=768, attention_head_dim=8).to(
            dev, dtype
        )  # SD 1.5 shape
        x = torch.randn(2, 4, 64, 64, device=dev, dtype=dtype)  # 512x512, CFG batch of 2
        ctx = torch.randn(2, 77, 768, device=dev, dtype=dtype)
        out["sd15_unet_512_step_ms"] = round(
            timed(lambda: unet(x, 500, ctx), 5 if quick else 20), 2
        )
        unet.to("meta")  # free its memory before the next model
        torch.cuda.empty_cache()
        ltx = LTXVideoTransformer3DModel().to(dev, torch.bfloat16)  # LTX-Video 0.9 shape (2B)
        f, h, w = 16, 15, 22  # 121 frames at 704x480 after 8x temporal / 32x spatial compression
        lat = torch.randn(2, f * h * w, 128, device=dev, dtype=torch.bfloat16)
        enc = torch.randn(2, 128, 4096, device=dev, dtype=torch.bfloat16)
        mask = torch.ones(2, 128, device=dev)

        def step():
            return ltx(
                hidden_states=lat,
                encoder_hidden_states=enc,
                timestep=torch.tensor([500, 500], device=dev),
                encoder_attention_mask=mask,
                num_frames=f,
                height=h,
                width=w,
            )

        out["ltx_704x480x121_step_ms"] = round(timed(step, 2 if quick else 5), 1)
        out["gpu_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="fewer runs (under a minute on 2 CPU cores)"
    )
    ap.add_argument(
        "--models",
        help="use this models folder (with tiny-sd and tiny-ltx) instead of building one",
    )
    ap.add_argument(
        "--real-shape", action="store_true", help="also time real-size denoisers on a CUDA GPU"
    )
    args = ap.parse_args()
    runs = 9 if args.quick else 25

    tmp = None
    if args.models:
        os.environ["REELGRAPH_MODELS"] = args.models
    else:
        from tests.tiny_models import write

        tmp = tempfile.TemporaryDirectory(prefix="reelgraph-bench-models-")
        t = time.perf_counter()
        write(Path(tmp.name), ["tiny-sd", "tiny-ltx"])
        print(f"built tiny pipelines in {time.perf_counter() - t:.1f}s")
        os.environ["REELGRAPH_MODELS"] = tmp.name

    from reelgraph.engine import Cache, Engine, Registry

    reg = Registry.discover()
    figures: dict = {}
    with tempfile.TemporaryDirectory() as out, Engine(reg, Cache(), out_dir=out) as engine:
        # 512x512 (SD 1.5's own size), 10 steps: a tiny denoiser, so the fixed costs of the graph
        # (planning, per-step progress and previews, conversion) weigh far more than with real
        # weights, where one step alone takes longer than this whole call.
        size, steps = 512, 10
        img = overhead(
            engine,
            "diffusion.TextToImage",
            {
                "model": "tiny-sd",
                "prompt": "a lighthouse at dusk",
                "width": size,
                "height": size,
                "steps": steps,
            },
            {
                "prompt": "a lighthouse at dusk",
                "width": size,
                "height": size,
                "num_inference_steps": steps,
                "guidance_scale": 7.0,
                "output_type": "pt",
            },
            runs,
        )
        print(f"text-to-image (tiny SD, {size}x{size}, {steps} steps):", json.dumps(img))
        vid = overhead(
            engine,
            "diffusion.TextToVideo",
            {
                "model": "tiny-ltx",
                "prompt": "waves",
                "width": 256,
                "height": 192,
                "frames": 33,
                "steps": steps,
            },
            {
                "prompt": "waves",
                "width": 256,
                "height": 192,
                "num_frames": 33,
                "num_inference_steps": steps,
                "guidance_scale": 5.0,
                "frame_rate": 24.0,
                "output_type": "pt",
            },
            runs,
        )
        print(f"text-to-video (tiny LTX, 256x192x33, {steps} steps):", json.dumps(vid))
        cache = cache_figures("tiny-sd", 20)
        print("model cache:", json.dumps(cache))
        figures = {
            "overhead_pct": img["overhead_pct"],
            "overhead_ms": img["overhead_ms"],
            "direct_ms": img["direct_ms"],
            "median_overhead_pct": img["median_overhead_pct"],
            "wall_overhead_pct": img["wall_overhead_pct"],
            "video_overhead_pct": vid["overhead_pct"],
            "video_overhead_ms": vid["overhead_ms"],
            "cache_hit_ms": cache["cache_hit_ms"],
            "load_ms": cache["load_ms"],
        }
    if args.real_shape:
        rs = real_shape(args.quick)
        print("real shapes:", json.dumps(rs))
        figures.update(rs)
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    if tmp is not None:
        tmp.cleanup()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
