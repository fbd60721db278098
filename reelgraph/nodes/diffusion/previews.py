"""Per-step progress and latent previews; the step callback is also the cancellation point."""

from __future__ import annotations

import math
from typing import Any

from reelgraph import Context


def latent_preview(
    latents: Any, layout: str, frames_hw: tuple[int, int, int] | None = None
) -> Any | None:
    """A rough IMAGE [1,h,w,3] of the current latents: three channels, each stretched to 0..1."""
    import torch

    x = latents.detach()[0].float()
    if layout == "packed":  # LTX: [seq, C] with seq = f*h*w latent positions
        if frames_hw is None or x.ndim != 2 or x.shape[0] != math.prod(frames_hw):
            return None
        f, h, w = frames_hw
        x = x.reshape(f, h, w, -1)[f // 2].permute(2, 0, 1)
    elif layout == "bcfhw" and x.ndim == 4:
        x = x[:, x.shape[1] // 2]
    elif layout == "bfchw" and x.ndim == 4:
        x = x[x.shape[0] // 2]
    if x.ndim != 3:
        return None
    x = x[:3] if x.shape[0] >= 3 else x[:1].expand(3, -1, -1)
    lo = x.amin(dim=(1, 2), keepdim=True)
    hi = x.amax(dim=(1, 2), keepdim=True)
    img = ((x - lo) / (hi - lo).clamp(min=1e-6)).permute(1, 2, 0).unsqueeze(0)
    return img.to(device="cpu", dtype=torch.float32).contiguous()


def step_callback(
    ctx: Context | None,
    steps: int,
    layout: str,
    preview: bool,
    frames_hw: tuple[int, int, int] | None = None,
) -> Any:
    """callback_on_step_end: progress (also the cancellation point) and a latent preview."""

    def callback(pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        if ctx is not None:
            total = int(getattr(pipe, "_num_timesteps", 0) or steps)
            ctx.progress(step + 1, total, f"step {step + 1}/{total}")
            if preview and "latents" in kwargs:
                img = latent_preview(kwargs["latents"], layout, frames_hw)
                if img is not None:
                    ctx.preview(img, "image")
        return {}

    return callback
