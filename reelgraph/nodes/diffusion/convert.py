"""Values in and out of pipelines: IMAGE -> PIL, pipeline images -> IMAGE, frames -> VIDEO."""

from __future__ import annotations

from typing import Any


def to_pil(image: Any, width: int, height: int) -> Any:
    """First image of an IMAGE batch as PIL, scaled to cover width x height and centre-cropped."""
    import torch
    from PIL import Image as PILImage

    t = image[0] if image.ndim == 4 else image
    arr = (t.detach().float().clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()
    pil = PILImage.fromarray(arr[..., :3])
    if width and height and (pil.width, pil.height) != (width, height):
        scale = max(width / pil.width, height / pil.height)
        w, h = max(width, round(pil.width * scale)), max(height, round(pil.height * scale))
        pil = pil.resize((w, h), PILImage.Resampling.LANCZOS)
        left, top = (w - width) // 2, (h - height) // 2
        pil = pil.crop((left, top, left + width, top + height))
    return pil


def images_out(images: Any) -> Any:
    """Pipeline output_type="pt" images [B,3,H,W] -> IMAGE [B,H,W,3] float32."""
    import torch

    if not isinstance(images, torch.Tensor):
        raise RuntimeError(f"pipeline returned {type(images).__name__}, expected a tensor")
    b, c, h, w = images.shape
    out = torch.empty((b, h, w, c), dtype=torch.float32)  # ours (not an inference tensor): one copy
    out.copy_(images.detach().permute(0, 2, 3, 1))
    return out.clamp_(0, 1)


def video_out(frames: Any, fps: float) -> Any:
    """Pipeline output_type="pt" frames [B,F,3,H,W] (0..1) -> a VIDEO of the first clip."""
    import torch

    from reelgraph.media import TensorVideo

    if isinstance(frames, (list, tuple)):
        frames = frames[0]
    if not isinstance(frames, torch.Tensor):
        raise RuntimeError(f"pipeline returned {type(frames).__name__}, expected a tensor")
    if frames.ndim == 5:
        frames = frames[0]
    # To uint8 first (on the device), then the channel shuffle on 1-byte values: the cheap order.
    u8 = frames.detach().float().mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)
    return TensorVideo(u8.permute(0, 2, 3, 1).contiguous().cpu(), fps)
