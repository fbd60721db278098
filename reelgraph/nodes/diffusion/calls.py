"""Driving a loaded pipeline for one call: the keyword arguments its __call__ takes, the seeded
generator, the per-call VAE options and scheduler, the default size."""

from __future__ import annotations

from typing import Any

from reelgraph import Context, NodeInputError

from .families import PACKED_IMAGE_CLASSES, Family
from .geometry import geometry
from .loading import Loaded
from .previews import step_callback
from .schedulers import make_scheduler


def seeded_generator(seed: int, device: str) -> Any:
    import torch

    return torch.Generator(device="cpu" if device == "mps" else device).manual_seed(int(seed))


def configure_vae(pipe: Any, slicing: bool, tiling: bool) -> None:
    vae = getattr(pipe, "vae", None)
    for flag, on, off in (
        (slicing, "enable_slicing", "disable_slicing"),
        (tiling, "enable_tiling", "disable_tiling"),
    ):
        if vae is None:
            continue
        fn = getattr(vae, on if flag else off, None)
        if fn is None:
            if flag:
                raise NodeInputError(
                    "vae_tiling" if on.endswith("tiling") else "vae_slicing",
                    f"the VAE of this model ({type(vae).__name__}) does not support {on[7:]}",
                )
            continue
        try:
            fn()
        except NotImplementedError as exc:  # some VAEs implement only one of the two
            if flag:
                raise NodeInputError(
                    "vae_tiling" if on.endswith("tiling") else "vae_slicing", str(exc)
                ) from None


def run_pipeline(
    ctx: Context | None,
    loaded: Loaded,
    pipe: Any,
    scheduler: str,
    slicing: bool,
    tiling: bool,
    kwargs: dict[str, Any],
) -> Any:
    import torch

    original = pipe.scheduler
    configure_vae(pipe, slicing, tiling)
    if scheduler == "default":  # set_timesteps resets its state at every call
        with torch.inference_mode():
            return pipe(**kwargs)
    schedulers = loaded.entry.derived.setdefault("schedulers", {})
    if scheduler not in schedulers:  # built once per loaded model, like the default one
        schedulers[scheduler] = make_scheduler(original, scheduler)
    try:
        pipe.scheduler = schedulers[scheduler]
        with torch.inference_mode():
            return pipe(**kwargs)
    finally:
        pipe.scheduler = original


def default_size(pipe: Any, width: int, height: int, fallback: tuple[int, int]) -> tuple[int, int]:
    """0 means the model's default size (its UNet sample size, else the family default)."""
    if width and height:
        return width, height
    sample = getattr(getattr(pipe, "unet", None), "config", None)
    scale = getattr(pipe, "vae_scale_factor", 8)
    if sample is not None and isinstance(getattr(sample, "sample_size", None), int):
        d = sample.sample_size * scale
        return width or d, height or d
    return width or fallback[0], height or fallback[1]


def image_kwargs(
    pipe: Any, model: str, kw: dict[str, Any], ctx: Context, steps: int, preview: bool
) -> dict[str, Any]:
    """What this image pipeline's __call__ takes, with the step callback and its latent layout."""
    params = call_params(pipe)
    out = {k: v for k, v in kw.items() if k in params and not (k == "negative_prompt" and not v)}
    layout, dims = "bchw", None
    if type(pipe).__name__.replace("Img2Img", "") in PACKED_IMAGE_CLASSES:
        mult = geometry(model).size_multiple
        layout, dims = "packed", (1, kw["height"] // mult, kw["width"] // mult)
    out["callback_on_step_end"] = step_callback(ctx, steps, layout, preview, dims)
    return out


_PARAMS: dict[type, frozenset[str]] = {}


def call_params(pipe: Any) -> frozenset[str]:
    """The keyword arguments a pipeline's __call__ takes (once per class)."""
    import inspect

    cls = type(pipe)
    if cls not in _PARAMS:
        _PARAMS[cls] = frozenset(inspect.signature(cls.__call__).parameters)
    return _PARAMS[cls]


def video_kwargs(
    pipe: Any,
    fam: Family,
    *,
    prompt: str,
    negative: str,
    width: int,
    height: int,
    frames: int,
    fps: float,
    steps: int,
    guidance: float,
    extra: dict[str, Any],
) -> dict[str, Any]:
    params = call_params(pipe)
    kw: dict[str, Any] = {
        "height": height,
        "width": width,
        "num_frames": frames,
        "num_inference_steps": steps,
        "output_type": "pt",
    }
    if fam.prompt:
        kw["prompt"] = prompt
        kw["negative_prompt"] = negative or None
        kw["guidance_scale"] = guidance
    else:  # SVD: guidance ramps from 1 to `guidance` over the frames
        kw["max_guidance_scale"] = guidance
        kw["min_guidance_scale"] = min(1.0, guidance)
    if "frame_rate" in params:
        kw["frame_rate"] = fps
    if "fps" in params:  # SVD conditions on fps - 1 (as it was trained)
        kw["fps"] = max(1, round(fps) - 1)
    kw.update({k: v for k, v in extra.items() if k in params})
    # CogVideoX 1.0 has learned positions for exactly max_text_seq_length prompt tokens.
    text_len = getattr(
        getattr(getattr(pipe, "transformer", None), "config", None), "max_text_seq_length", None
    )
    if text_len and "max_sequence_length" in params:
        kw["max_sequence_length"] = int(text_len)
    return kw
