"""The generative nodes: text-to-image, image-to-image, text-to-video, image-to-video, unload.

Each node checks its values again (they may have come over links), takes its pipeline from
the model cache and drives it; every step reports progress and a latent preview and is a
cancellation point. Seeds are explicit widgets: the same seed on the same device gives the
same pixels."""

from __future__ import annotations

from typing import Annotated, Any

from reelgraph import (
    IMAGE,
    INT,
    VIDEO,
    AnyValue,
    Bool,
    Combo,
    Context,
    Float,
    Image,
    Int,
    NodeInputError,
    Seed,
    Text,
    node,
)
from reelgraph import models as M

from .calls import (
    default_size,
    image_kwargs,
    run_pipeline,
    seeded_generator,
    video_kwargs,
)
from .catalog import i2i_options, i2v_options, model_path, t2i_options, t2v_options
from .convert import images_out, to_pil, video_out
from .families import VIDEO_FAMILIES
from .geometry import geometry, latent_dims, size_for_image
from .loading import Loaded, LoadOptions
from .previews import step_callback
from .validation import check_runtime, missing_model_hint, model_fingerprint, validator
from .widgets import (
    FPS,
    Device,
    DType,
    Frames,
    Guidance,
    Negative,
    Offload,
    Prompt,
    Scheduler,
    Size,
    Steps,
)


@node(
    "diffusion.TextToImage",
    category="generate/image",
    outputs={"image": IMAGE},
    resource="gpu",
    validate=validator("t2i", False),
    fingerprint=model_fingerprint,
)
def text_to_image(
    model: Annotated[str, Combo(t2i_options, hint=missing_model_hint("t2i"))],
    prompt: Prompt,
    ctx: Context,
    negative_prompt: Negative = "",
    width: Size = 512,
    height: Size = 512,
    steps: Steps = 25,
    guidance: Guidance = 7.0,
    seed: Annotated[int, Seed()] = 0,
    scheduler: Scheduler = "default",
    batch: Annotated[int, Int(1, 64)] = 1,
    device: Device = "auto",
    dtype: DType = "auto",
    offload: Offload = "none",
    vae_slicing: Annotated[bool, Bool()] = False,
    vae_tiling: Annotated[bool, Bool()] = False,
    preview: Annotated[bool, Bool()] = True,
) -> Any:
    """Generate images from a prompt with a diffusers model from models/diffusers (Stable
    Diffusion 1.x/2.x, SDXL, and whatever AutoPipeline resolves) or an SD/SDXL
    .safetensors from models/checkpoints. Width/height 0: the model's default size.
    `offload` (model / sequential / group) and VAE slicing/tiling trade speed for GPU memory."""
    check_runtime(model, "t2i", width, height, None, scheduler)
    with Loaded(model, LoadOptions(device, dtype, offload)) as lm:
        pipe = lm.pipeline("t2i")
        w, h = default_size(pipe, width, height, (1024, 1024))
        out = run_pipeline(
            ctx,
            lm,
            pipe,
            scheduler,
            vae_slicing,
            vae_tiling,
            image_kwargs(
                pipe,
                model,
                {
                    "prompt": prompt,
                    "negative_prompt": negative_prompt,
                    "width": w,
                    "height": h,
                    "num_inference_steps": steps,
                    "guidance_scale": guidance,
                    "num_images_per_prompt": batch,
                    "generator": seeded_generator(seed, lm.device),
                    "output_type": "pt",
                },
                ctx,
                steps,
                preview,
            ),
        )
    images = images_out(out.images)
    if preview:
        ctx.preview(images, "image")
    return images


@node(
    "diffusion.ImageToImage",
    category="generate/image",
    outputs={"image": IMAGE},
    resource="gpu",
    validate=validator("i2i", False),
    fingerprint=model_fingerprint,
)
def image_to_image(
    model: Annotated[str, Combo(i2i_options, hint=missing_model_hint("i2i"))],
    image: Image,
    prompt: Prompt,
    ctx: Context,
    negative_prompt: Negative = "",
    strength: Annotated[float, Float(0.01, 1.0, 0.01)] = 0.6,
    width: Size = 0,
    height: Size = 0,
    steps: Steps = 25,
    guidance: Guidance = 7.0,
    seed: Annotated[int, Seed()] = 0,
    scheduler: Scheduler = "default",
    device: Device = "auto",
    dtype: DType = "auto",
    offload: Offload = "none",
    vae_slicing: Annotated[bool, Bool()] = False,
    vae_tiling: Annotated[bool, Bool()] = False,
    preview: Annotated[bool, Bool()] = True,
) -> Any:
    """Redraw an image guided by a prompt. `strength` 0 keeps the image, 1 ignores it; the
    pipeline runs about strength x steps steps. Width/height 0: the image's size, rounded
    down to what the model accepts. Each image of a batch is redrawn."""
    import torch

    check_runtime(model, "i2i", width, height, None, scheduler)
    b, ih, iw, _ = image.shape
    w, h = size_for_image(geometry(model).size_multiple, width, height, (ih, iw))
    results = []
    with Loaded(model, LoadOptions(device, dtype, offload)) as lm:
        pipe = lm.pipeline("i2i")
        for i in range(b):
            out = run_pipeline(
                ctx,
                lm,
                pipe,
                scheduler,
                vae_slicing,
                vae_tiling,
                image_kwargs(
                    pipe,
                    model,
                    {
                        "prompt": prompt,
                        "negative_prompt": negative_prompt,
                        "image": to_pil(image[i : i + 1], w, h),
                        "strength": strength,
                        "num_inference_steps": steps,
                        "guidance_scale": guidance,
                        "generator": seeded_generator(seed + i, lm.device),
                        "output_type": "pt",
                        "width": w,
                        "height": h,
                    },
                    ctx,
                    steps,
                    preview,
                ),
            )
            results.append(images_out(out.images))
    images = torch.cat(results)
    if preview:
        ctx.preview(images, "image")
    return images


@node(
    "diffusion.TextToVideo",
    category="generate/video",
    outputs={"video": VIDEO},
    resource="gpu",
    validate=validator("t2v", True),
    fingerprint=model_fingerprint,
)
def text_to_video(
    model: Annotated[str, Combo(t2v_options, hint=missing_model_hint("t2v"))],
    prompt: Prompt,
    ctx: Context,
    negative_prompt: Negative = "",
    width: Size = 768,
    height: Size = 512,
    frames: Frames = 25,
    fps: FPS = 0.0,
    steps: Steps = 30,
    guidance: Guidance = 5.0,
    seed: Annotated[int, Seed()] = 0,
    scheduler: Scheduler = "default",
    device: Device = "auto",
    dtype: DType = "auto",
    offload: Offload = "none",
    vae_slicing: Annotated[bool, Bool()] = False,
    vae_tiling: Annotated[bool, Bool()] = False,
    preview: Annotated[bool, Bool()] = True,
) -> Any:
    """Generate a clip from a prompt: AnimateDiff, LTX-Video (frames 8k+1, sizes /32), Wan 2.x
    and CogVideoX (frames 4k+1, sizes /16). `fps` 0: the rate the model was trained for
    (LTX 24, Wan 16, CogVideoX and AnimateDiff 8). The rules are checked before the run."""
    check_runtime(model, "t2v", width, height, frames, scheduler)
    with Loaded(model, LoadOptions(device, dtype, offload)) as lm:
        pipe = lm.pipeline("t2v")
        fam = VIDEO_FAMILIES[type(pipe).__name__]
        rate = fps or fam.fps
        kw = video_kwargs(
            pipe,
            fam,
            prompt=prompt,
            negative=negative_prompt,
            width=width,
            height=height,
            frames=frames,
            fps=rate,
            steps=steps,
            guidance=guidance,
            extra={},
        )
        kw["generator"] = seeded_generator(seed, lm.device)
        kw["callback_on_step_end"] = step_callback(
            ctx, steps, fam.layout, preview, latent_dims(model, frames, width, height)
        )
        out = run_pipeline(ctx, lm, pipe, scheduler, vae_slicing, vae_tiling, kw)
    video = video_out(out.frames, rate)
    if preview:
        ctx.preview(video, "video")
    return video


@node(
    "diffusion.ImageToVideo",
    category="generate/video",
    outputs={"video": VIDEO},
    resource="gpu",
    validate=validator("i2v", True),
    fingerprint=model_fingerprint,
)
def image_to_video(
    model: Annotated[str, Combo(i2v_options, hint=missing_model_hint("i2v"))],
    image: Image,
    ctx: Context,
    prompt: Prompt = "",
    negative_prompt: Negative = "",
    width: Size = 0,
    height: Size = 0,
    frames: Frames = 25,
    fps: FPS = 0.0,
    steps: Steps = 30,
    guidance: Guidance = 5.0,
    seed: Annotated[int, Seed()] = 0,
    scheduler: Scheduler = "default",
    motion_bucket: Annotated[int, Int(1, 255)] = 127,
    noise_aug: Annotated[float, Float(0.0, 1.0, 0.01)] = 0.02,
    decode_chunk: Annotated[int, Int(1, 64)] = 8,
    device: Device = "auto",
    dtype: DType = "auto",
    offload: Offload = "none",
    vae_slicing: Annotated[bool, Bool()] = False,
    vae_tiling: Annotated[bool, Bool()] = False,
    preview: Annotated[bool, Bool()] = True,
) -> Any:
    """Animate an image: Stable Video Diffusion (no prompt; `motion_bucket`, `noise_aug` and
    `decode_chunk` are its knobs), Wan image-to-video, LTX-Video (same folder as its
    text-to-video) and CogVideoX image-to-video. Width/height 0: the image's size rounded
    down to what the model accepts. The image is scaled to cover the size and centre-cropped."""
    mult = 8
    try:
        mult = geometry(model).size_multiple
    except (M.ModelNotFound, OSError, ValueError):
        pass
    _, ih, iw, _ = image.shape
    w, h = size_for_image(mult, width, height, (ih, iw))
    check_runtime(model, "i2v", w, h, frames, scheduler)
    with Loaded(model, LoadOptions(device, dtype, offload)) as lm:
        pipe = lm.pipeline("i2v")
        fam = VIDEO_FAMILIES[type(pipe).__name__]
        rate = fps or fam.fps
        kw = video_kwargs(
            pipe,
            fam,
            prompt=prompt,
            negative=negative_prompt,
            width=w,
            height=h,
            frames=frames,
            fps=rate,
            steps=steps,
            guidance=guidance,
            extra={
                "motion_bucket_id": motion_bucket,
                "noise_aug_strength": noise_aug,
                "decode_chunk_size": decode_chunk,
            },
        )
        kw["image"] = to_pil(image, w, h)
        kw["generator"] = seeded_generator(seed, lm.device)
        kw["callback_on_step_end"] = step_callback(
            ctx, steps, fam.layout, preview, latent_dims(model, frames, w, h)
        )
        out = run_pipeline(ctx, lm, pipe, scheduler, vae_slicing, vae_tiling, kw)
    video = video_out(out.frames, rate)
    if preview:
        ctx.preview(video, "video")
    return video


@node(
    "diffusion.UnloadModels",
    category="generate/models",
    outputs={"unloaded": INT},
    output=True,
    nondeterministic=True,
)
def unload_models(
    after: AnyValue = None,
    model: Annotated[str, Text(placeholder="empty: every model")] = "",
) -> Any:
    """Free loaded models from the model cache (GPU and CPU memory): all of them, or the one
    named (a models/diffusers folder name). Link `after` to order it after the nodes that
    used them. Returns how many pipelines were unloaded."""
    if not model:
        return M.model_cache().unload()
    try:
        path = str(model_path(model).resolve())
    except M.ModelNotFound as exc:
        raise NodeInputError("model", str(exc)) from None
    return M.model_cache().unload(
        match=lambda k: isinstance(k, tuple) and len(k) > 1 and k[1] == path
    )
