"""The generative nodes on tiny random-weight pipelines, through the engine."""

from __future__ import annotations

import json

import pytest
import torch

from reelgraph.engine import CancelToken, WorkflowError
from reelgraph.engine import models as M


def t2i(model="tiny-sd", **kw):
    inputs = {
        "model": model,
        "prompt": "a red cat in the sun",
        "width": 64,
        "height": 64,
        "steps": 3,
        "seed": 1,
    } | kw
    return {"type": "diffusion.TextToImage", "inputs": inputs}


def video(node_type, model, **kw):
    return {
        "type": f"diffusion.{node_type}",
        "inputs": {"model": model, "prompt": "a dog on a river", "steps": 2, "seed": 3} | kw,
    }


IMG = {"from": "img", "output": "image"}


def check_video(v, frames, width, height, fps):
    assert (v.frame_count, v.width, v.height, v.fps) == (frames, width, height, fps)
    chunks = list(v.chunks(4))
    assert [c.shape[0] for c in chunks] == [min(4, frames - i) for i in range(0, frames, 4)]
    allf = torch.cat(chunks)
    assert allf.dtype == torch.uint8 and allf.shape == (frames, height, width, 3)
    assert allf.float().std() > 0  # random weights still give varied pixels, not a constant


def test_text_to_image_shape_range_progress_preview(runner):
    res = runner.run({"img": t2i(batch=2)})
    assert res.status == "finished", res.failed
    img = res.outputs["img"]["image"]
    assert img.shape == (2, 64, 64, 3) and img.dtype == torch.float32
    assert img.min() >= 0.0 and img.max() <= 1.0 and img.std() > 0
    progress = [e.data for e in res.events if e.type == "node.progress"]
    assert [(p["value"], p["max"]) for p in progress] == [(1, 3), (2, 3), (3, 3)]
    previews = [e.data for e in res.events if e.type == "node.preview"]
    latents = [p["value"] for p in previews[:-1]]
    assert len(latents) == 3 and all(
        p.shape == (1, 8, 8, 3) for p in latents
    )  # 64 / 8: latent size
    assert previews[-1]["value"].shape == (2, 64, 64, 3)  # the decoded result


def test_seed_is_deterministic_and_matters(runner):
    a = runner.run({"img": t2i(seed=5)}).outputs["img"]["image"]
    b = runner.run({"img": t2i(seed=5)}).outputs["img"]["image"]
    c = runner.run({"img": t2i(seed=6)}).outputs["img"]["image"]
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_matches_calling_diffusers_directly(runner, models_dir):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(models_dir / "diffusers" / "tiny-sd")
    pipe.set_progress_bar_config(disable=True)
    direct = pipe(
        "a red cat in the sun",
        width=64,
        height=64,
        num_inference_steps=3,
        guidance_scale=7.0,
        generator=torch.Generator().manual_seed(1),
        output_type="pt",
    ).images
    ours = runner.run({"img": t2i()}).outputs["img"]["image"]
    assert torch.allclose(ours, direct.permute(0, 2, 3, 1), atol=1e-6)


def test_model_cache_reuse_second_run_loads_nothing(runner):
    runner.run({"img": t2i(seed=11)})
    loads = M.model_cache().stats.loads
    hits = M.model_cache().stats.hits
    res = runner.run(
        {
            "img": t2i(seed=12),
            "i2i": {
                "type": "diffusion.ImageToImage",
                "inputs": {
                    "model": "tiny-sd",
                    "image": IMG,
                    "prompt": "a blue cat",
                    "steps": 4,
                    "strength": 0.5,
                },
            },
        }
    )
    assert res.status == "finished", res.failed
    assert M.model_cache().stats.loads == loads  # image-to-image shares the text-to-image pipeline
    assert M.model_cache().stats.hits >= hits + 2


def test_image_to_image_keeps_size_and_strength_matters(runner):
    nodes = {"img": t2i(width=64, height=48, seed=2)}
    for s in (0.3, 1.0):
        nodes[f"i2i{s}"] = {
            "type": "diffusion.ImageToImage",
            "inputs": {
                "model": "tiny-sd",
                "image": IMG,
                "prompt": "a blue cat",
                "steps": 4,
                "strength": s,
                "scheduler": "euler",
            },
        }
    res = runner.run(nodes)
    assert res.status == "finished", res.failed
    src = res.outputs["img"]["image"]
    weak, strong = res.outputs["i2i0.3"]["image"], res.outputs["i2i1.0"]["image"]
    assert weak.shape == strong.shape == (1, 48, 64, 3)
    # Less strength stays closer to the input image.
    assert (weak - src).abs().mean() < (strong - src).abs().mean()
    steps = [
        e.data["max"] for e in res.events if e.type == "node.progress" and e.node_id == "i2i0.3"
    ]
    assert steps and steps[-1] == 1  # about strength x steps steps run


def test_sdxl_with_another_scheduler(runner):
    res = runner.run({"a": t2i("tiny-sdxl", scheduler="dpm++_2m_karras"), "b": t2i("tiny-sdxl")})
    assert res.status == "finished", res.failed
    a, b = res.outputs["a"]["image"], res.outputs["b"]["image"]
    assert a.shape == (1, 64, 64, 3) and not torch.equal(a, b)


@pytest.mark.parametrize(
    ("model", "kw", "fps"),
    [
        ("tiny-ltx", {"width": 64, "height": 32, "frames": 9}, 24.0),
        ("tiny-wan", {"width": 32, "height": 32, "frames": 5}, 16.0),
        ("tiny-cogvideox", {"width": 32, "height": 32, "frames": 9}, 8.0),
        ("tiny-animatediff", {"width": 32, "height": 32, "frames": 4, "fps": 12.0}, 12.0),
    ],
)
def test_text_to_video_families(runner, model, kw, fps):
    res = runner.run({"v": video("TextToVideo", model, **kw)})
    assert res.status == "finished", res.failed
    check_video(res.outputs["v"]["video"], kw["frames"], kw["width"], kw["height"], fps)
    assert [e.data["value"] for e in res.events if e.type == "node.progress"] == [1, 2]
    kinds = [e.data["kind"] for e in res.events if e.type == "node.preview"]
    assert kinds == ["image", "image", "video"]  # a latent preview per step, then the clip


@pytest.mark.parametrize(
    ("model", "kw", "size", "fps"),
    [
        ("tiny-svd", {"frames": 4}, (32, 32), 7.0),  # size from the image, rounded to the model
        (
            "tiny-ltx",
            {"frames": 9, "width": 64, "height": 64},
            (64, 64),
            24.0,
        ),  # LTX I2V from the T2V folder
        ("tiny-wan-i2v", {"frames": 5, "width": 32, "height": 32}, (32, 32), 16.0),
        (
            "tiny-cogvideox-i2v",
            {"frames": 9, "width": 32, "height": 32, "fps": 10.0},
            (32, 32),
            10.0,
        ),
    ],
)
def test_image_to_video_families(runner, model, kw, size, fps):
    res = runner.run(
        {"img": t2i(width=32, height=32), "v": video("ImageToVideo", model, image=IMG, **kw)}
    )
    assert res.status == "finished", res.failed
    check_video(res.outputs["v"]["video"], kw["frames"], size[0], size[1], fps)


def test_video_seed_deterministic(runner):
    a = runner.run({"v": video("TextToVideo", "tiny-wan", width=32, height=32, frames=5)})
    b = runner.run({"v": video("TextToVideo", "tiny-wan", width=32, height=32, frames=5)})
    assert torch.equal(a.outputs["v"]["video"].frames, b.outputs["v"]["video"].frames)


def test_cancel_between_steps(runner):
    cancel = CancelToken()

    def listener(e):
        if e.type == "node.progress" and e.data.get("value") == 2:
            cancel.cancel()

    res = runner.run({"img": t2i(steps=50, seed=99)}, cancel=cancel, listener=listener)
    assert res.status == "cancelled"
    values = [e.data["value"] for e in res.events if e.type == "node.progress"]
    assert values == [1, 2]  # stopped at the next step, not after all 50
    assert "img" not in res.outputs and not res.failed
    # The pipeline was released: the next run uses it again.
    assert runner.run({"img": t2i(seed=98)}).status == "finished"


def issues_of(runner, nodes):
    with pytest.raises(WorkflowError) as info:
        runner.run(nodes)
    return [(i.node, i.input, i.message) for i in info.value.issues]


def test_missing_model_names_the_folder(runner, models_dir):
    found = issues_of(runner, {"img": t2i("no-such-model")})
    assert any(inp == "model" and str(models_dir / "diffusers") in msg for _, inp, msg in found), (
        found
    )


def test_wrong_model_kind_and_malformed_folders(runner, models_dir):
    found = issues_of(runner, {"v": video("TextToVideo", "tiny-sd", width=64, height=64, frames=9)})
    assert any(inp == "model" for _, inp, _ in found), found
    broken = models_dir / "diffusers" / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text("{not json")
    partial = models_dir / "diffusers" / "partial"
    partial.mkdir()
    index = json.loads((models_dir / "diffusers" / "tiny-sd" / "model_index.json").read_text())
    (partial / "model_index.json").write_text(json.dumps(index))
    try:
        from reelgraph.nodes.diffusion.catalog import check_model

        assert "malformed" in check_model("broken", "t2i")
        assert (
            "incomplete: no subfolder for scheduler, text_encoder, tokenizer, unet, vae"
            in check_model("partial", "t2i")
        )
        found = issues_of(runner, {"img": t2i("partial")})
        assert any("incomplete" in msg for _, _, msg in found), found
    finally:
        for d in (broken, partial):
            for f in d.iterdir():
                f.unlink()
            d.rmdir()


def test_malformed_checkpoint(runner, models_dir):
    ckpt = models_dir / "checkpoints"
    ckpt.mkdir(exist_ok=True)
    (ckpt / "junk.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{bad}   ")
    try:
        from reelgraph.nodes.diffusion.catalog import check_model, model_options

        assert "checkpoints/junk.safetensors" in model_options("t2i")
        msg = check_model("checkpoints/junk.safetensors", "t2i")
        assert "not a readable SD 1.x/2.x or SDXL .safetensors checkpoint" in msg
        found = issues_of(runner, {"img": t2i("checkpoints/junk.safetensors")})
        assert any(inp == "model" and "junk.safetensors" in m for _, inp, m in found), found
    finally:
        (ckpt / "junk.safetensors").unlink()


@pytest.mark.parametrize(
    ("model", "kw", "field", "text"),
    [
        (
            "tiny-ltx",
            {"frames": 10, "width": 64, "height": 64},
            "frames",
            "LTX-Video needs frames = 8k+1, got 10 (try 9 or 17)",
        ),
        (
            "tiny-wan",
            {"frames": 6, "width": 32, "height": 32},
            "frames",
            "Wan needs frames = 4k+1, got 6 (try 5 or 9)",
        ),
        (
            "tiny-cogvideox",
            {"frames": 8, "width": 32, "height": 32},
            "frames",
            "CogVideoX needs frames = 4k+1",
        ),
        (
            "tiny-ltx",
            {"frames": 9, "width": 80, "height": 64},
            "width",
            "needs width divisible by 32, got 80 (try 64 or 96)",
        ),
        (
            "tiny-wan",
            {"frames": 5, "width": 32, "height": 40},
            "height",
            "needs height divisible by 16",
        ),
        ("tiny-ltx", {"frames": 9, "width": 5000, "height": 64}, "width", "above the maximum 4096"),
        (
            "tiny-animatediff",
            {"frames": 40, "width": 32, "height": 32},
            "frames",
            "at most 32 frames",
        ),
        (
            "tiny-ltx",
            {"frames": 9, "width": 64, "height": 64, "scheduler": "ddim"},
            "scheduler",
            "does not fit this model (flow",
        ),
        (
            "tiny-ltx",
            {"frames": 9, "width": 64, "height": 64, "device": "cpu", "offload": "model"},
            "offload",
            "choose none",
        ),
    ],
)
def test_validation_errors(runner, model, kw, field, text):
    found = issues_of(runner, {"v": video("TextToVideo", model, **kw)})
    assert any(node == "v" and inp == field and text in msg for node, inp, msg in found), found


def test_combo_lists_models_per_task(registry, models_dir):
    def options(node_type):
        return next(
            i for i in registry[node_type].inputs if i.name == "model"
        ).widget.option_values()

    images = ["tiny-flux", "tiny-sd", "tiny-sd3", "tiny-sdxl", "checkpoints/tiny-sd.safetensors"]
    assert options("diffusion.TextToImage") == images
    assert options("diffusion.ImageToImage") == images
    assert options("diffusion.TextToVideo") == [
        "tiny-animatediff",
        "tiny-cogvideox",
        "tiny-ltx",
        "tiny-wan",
    ]
    assert options("diffusion.ImageToVideo") == [
        "tiny-cogvideox-i2v",
        "tiny-ltx",
        "tiny-svd",
        "tiny-wan-i2v",
    ]


def test_explicit_unload_node(runner):
    runner.run({"img": t2i(seed=21)})
    assert any("tiny-sd" in str(e.key) for e in M.model_cache().entries())
    res = runner.run(
        {
            "img": t2i(seed=22),
            "free": {
                "type": "diffusion.UnloadModels",
                "inputs": {"after": {"from": "img", "output": "image"}, "model": "tiny-sd"},
            },
        }
    )
    assert res.status == "finished" and res.outputs["free"]["unloaded"] == 1
    assert not any(str(e.key).find("tiny-sd'") >= 0 for e in M.model_cache().entries())
    loads = M.model_cache().stats.loads
    runner.run({"img": t2i(seed=23)})
    assert M.model_cache().stats.loads == loads + 1  # loaded again after the unload


def test_vae_slicing_and_tiling_options_keep_the_result(runner):
    plain = runner.run({"img": t2i(batch=2, seed=31)}).outputs["img"]["image"]
    res = runner.run({"img": t2i(batch=2, seed=31, vae_slicing=True, vae_tiling=True)})
    assert res.status == "finished", res.failed
    assert torch.allclose(res.outputs["img"]["image"], plain, atol=1e-5)
    # the options are per call: the shared pipeline is left as it was found
    again = runner.run({"img": t2i(batch=2, seed=31)}).outputs["img"]["image"]
    assert torch.equal(again, plain)


def test_sdxl_image_to_image_via_autopipeline(runner):
    res = runner.run(
        {
            "img": t2i("tiny-sdxl", width=64, height=64),
            "i2i": {
                "type": "diffusion.ImageToImage",
                "inputs": {
                    "model": "tiny-sdxl",
                    "image": IMG,
                    "prompt": "x",
                    "steps": 2,
                    "strength": 0.7,
                },
            },
        }
    )
    assert res.status == "finished", res.failed
    assert res.outputs["i2i"]["image"].shape == (1, 64, 64, 3)


@pytest.mark.parametrize("model", ["tiny-sd3", "tiny-flux"])
def test_flow_matching_image_models_through_autopipeline(runner, model):
    res = runner.run(
        {
            "img": t2i(model, width=64, height=48, steps=2, scheduler="flow_euler"),
            "i2i": {
                "type": "diffusion.ImageToImage",
                "inputs": {
                    "model": model,
                    "image": IMG,
                    "prompt": "x",
                    "steps": 3,
                    "strength": 0.7,
                },
            },
        }
    )
    assert res.status == "finished", res.failed
    assert res.outputs["img"]["image"].shape == (1, 48, 64, 3)
    assert res.outputs["i2i"]["image"].shape == (1, 48, 64, 3)
    latent = next(
        e.data["value"] for e in res.events if e.type == "node.preview" and e.node_id == "img"
    )
    assert latent.shape[1:3] == ((3, 4) if model == "tiny-flux" else (6, 8))  # Flux packs 2x2


def test_flux_size_rule_and_scheduler_kind(runner):
    found = issues_of(runner, {"img": t2i("tiny-flux", width=72, scheduler="ddim")})
    msgs = {(inp, m) for _, inp, m in found}
    assert any(inp == "width" and "divisible by 16" in m for inp, m in msgs), found
    assert any(inp == "scheduler" and "flow_euler" in m for inp, m in msgs), found


def test_corrupt_weights_fail_the_node_naming_the_folder(runner, models_dir):
    import shutil

    bad = models_dir / "diffusers" / "corrupt-sd"
    shutil.copytree(models_dir / "diffusers" / "tiny-sd", bad)
    try:
        weights = next((bad / "unet").glob("*.safetensors"))
        weights.write_bytes(weights.read_bytes()[:100])
        res = runner.run({"img": t2i("corrupt-sd")})
        assert res.status == "failed"
        failure = res.failed["img"]
        assert failure.input == "model" and f"could not load {bad}" in failure.message
    finally:
        shutil.rmtree(bad)


def test_model_cache_evicts_least_recently_used_pipeline_by_measured_bytes(runner):
    cache = M.model_cache()
    runner.run({"img": t2i(seed=41)})
    sd = next(e for e in cache.entries() if "tiny-sd'" in repr(e.key))
    params = sum(
        p.numel() * p.element_size()
        for m in sd.value.components.values()
        if isinstance(m, torch.nn.Module)
        for p in [*m.parameters(), *m.buffers()]
    )
    assert sd.nbytes == params > 0  # measured from the pipeline's tensors
    old = cache.budget("cpu")
    try:
        cache.set_budget("cpu", sd.nbytes + 1)  # room for one of the two models
        evictions, loads = cache.stats.evictions, cache.stats.loads
        runner.run({"img": t2i("tiny-sdxl", seed=42)})
        assert cache.stats.evictions > evictions and not any(
            "tiny-sd'" in repr(e.key) for e in cache.entries()
        )
        runner.run({"img": t2i(seed=43)})
        assert cache.stats.loads == loads + 2  # tiny-sd had to be loaded again
    finally:
        cache.set_budget("cpu", old)


def test_single_file_checkpoint_never_downloads(runner, models_dir):
    import struct

    # The tensor diffusers reads to recognise an SD 1.x checkpoint (cross-attention width 768).
    size = 320 * 768 * 2
    header = json.dumps(
        {
            "model.diffusion_model.input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight": {
                "dtype": "F16",
                "shape": [320, 768],
                "data_offsets": [0, size],
            }
        }
    ).encode()
    ckpt = models_dir / "checkpoints"
    ckpt.mkdir(exist_ok=True)
    path = ckpt / "sd-like.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(size))
    try:
        res = runner.run({"img": t2i("checkpoints/sd-like.safetensors")})
        assert res.status == "failed"
        msg = res.failed["img"].message
        # recognised as SD 1.x, then its configs are not fetched from the Hub: offline
        assert (
            "from_single_file" in msg and "REELGRAPH_ALLOW_DOWNLOADS=1" in msg and "sd-like" in msg
        )
        assert "offline" in msg.lower() and "tuple index" not in msg
    finally:
        path.unlink()


@pytest.mark.parametrize("mode", ["model", "group"])
def test_offload_wiring_gives_the_same_pixels(models_dir, mode):
    # Offloading is refused on the cpu device in workflows (nothing to gain); here the loader is
    # called directly with cpu as the "accelerator" to check the hooks are installed and harmless.
    from reelgraph.nodes.diffusion.loading import LoadOptions, load_pipeline

    def image(offload):
        pipe = load_pipeline("tiny-sd", LoadOptions("cpu", "float32", offload), "cpu")
        return pipe(
            "a cat",
            width=64,
            height=64,
            num_inference_steps=2,
            generator=torch.Generator().manual_seed(0),
            output_type="pt",
        ).images

    assert torch.allclose(image(mode), image("none"), atol=1e-6)


def test_single_file_checkpoint_loads_offline_and_matches_the_folder(runner):
    # tiny-sd saved in the original single-file layout, with its configs in checkpoints/tiny-sd/
    single = runner.run({"img": t2i("checkpoints/tiny-sd.safetensors", seed=61)})
    assert single.status == "finished", single.failed
    folder = runner.run({"img": t2i("tiny-sd", seed=61)})
    assert torch.allclose(single.outputs["img"]["image"], folder.outputs["img"]["image"], atol=1e-6)
