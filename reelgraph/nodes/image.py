"""Basic image nodes (torch ops on IMAGE = float32 [B,H,W,C] in 0..1).

torch is imported inside each function: listing nodes must stay cheap.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Annotated, Any

from reelgraph import (
    IMAGE,
    Combo,
    Context,
    FilePath,
    Float,
    Image,
    Int,
    NodeInputError,
    Text,
    atomic_write,
    list_of,
    node,
)


def parse_hex_color(text: str) -> tuple[float, float, float]:
    s = text.strip().lstrip("#")
    if len(s) == 3:
        s = "".join(ch * 2 for ch in s)
    if len(s) != 6 or any(ch not in "0123456789abcdefABCDEF" for ch in s):
        raise ValueError(f"{text!r} is not a colour like '#3366ff'")
    return tuple(int(s[i : i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def _check_color(values: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        parse_hex_color(str(values.get("color", "")))
    except ValueError as exc:
        return [("color", str(exc))]
    return []


def image_bytes(values: dict[str, Any]) -> int:
    """What an IMAGE of these widget values holds: width x height x batch x 3 x 4 bytes."""
    return _int(values, "width", 512) * _int(values, "height", 512) * _int(values, "batch", 1) * 12


def _int(values: dict[str, Any], name: str, default: int) -> int:
    v = values.get(name, default)
    return v if isinstance(v, int) and not isinstance(v, bool) else default


@node(
    "image.Solid",
    category="image/source",
    outputs={"image": IMAGE},
    validate=_check_color,
    estimate_bytes=image_bytes,
)
def solid(
    width: Annotated[int, Int(1, 16384)] = 512,
    height: Annotated[int, Int(1, 16384)] = 512,
    color: str = "#336699",
    batch: Annotated[int, Int(1, 4096)] = 1,
) -> Any:
    """A plain image of one colour."""
    import torch

    rgb = torch.tensor(parse_hex_color(color), dtype=torch.float32)
    return rgb.expand(batch, height, width, 3).contiguous()


@functools.lru_cache(maxsize=64)
def _gaussian_weights(sigma: float, radius: int) -> tuple[float, ...]:
    w = [math.exp(-(x * x) / (2 * sigma * sigma)) for x in range(-radius, radius + 1)]
    total = sum(w)
    return tuple(v / total for v in w)


def _blur_axis(x: Any, weights: tuple[float, ...], dim: int, mode: str) -> Any:
    """1-D convolution along H (dim=1) or W (dim=2) of [B,H,W,C]: a weighted sum of
    shifted views, which beats conv2d for the short kernels blurs use."""
    import torch.nn.functional as F

    r = len(weights) // 2
    size = x.shape[dim]
    # F.pad pads the last dims of an N-C-... tensor: move the axis to the end.
    t = x.movedim(dim, -1)
    padded = F.pad(t.reshape(-1, 1, size), (r, r), mode=mode).reshape(*t.shape[:-1], size + 2 * r)
    out = padded[..., 0:size] * weights[0]
    for k in range(1, len(weights)):
        out.add_(padded[..., k : k + size], alpha=weights[k])
    return out.movedim(-1, dim)


@node("image.Blur", category="image/filter", outputs={"image": IMAGE})
def blur(image: Image, sigma: Annotated[float, Float(0.0, 100.0, 0.1)] = 1.0) -> Any:
    """Gaussian blur; `sigma` is the standard deviation in pixels (0 leaves the image as is)."""
    if sigma <= 0:
        return image
    _, h, w, _ = image.shape
    radius = max(1, min(math.ceil(3 * sigma), max(h, w) - 1))
    weights = _gaussian_weights(float(sigma), radius)
    x = image
    for dim, size in ((2, w), (1, h)):
        x = _blur_axis(x, weights, dim, "reflect" if radius < size else "replicate")
    return x.contiguous()


@node("image.Invert", category="image/adjust", outputs={"image": IMAGE})
def invert(image: Image, amount: Annotated[float, Float(0.0, 1.0, 0.05)] = 1.0) -> Any:
    """Invert colours; `amount` blends between the original (0) and the negative (1)."""
    return image + (1.0 - 2.0 * image) * amount


BLEND_MODES = ("normal", "multiply", "screen", "add", "difference")


@node("image.Blend", category="image/composite", outputs={"image": IMAGE})
def blend(
    a: Image,
    b: Image,
    factor: Annotated[float, Float(0.0, 1.0, 0.05)] = 0.5,
    mode: Annotated[str, Combo(BLEND_MODES)] = "normal",
) -> Any:
    """Blend `b` over `a`. Both must have the same size; a batch of 1 broadcasts."""
    if a.shape[1:] != b.shape[1:]:
        raise NodeInputError(
            "b",
            f"size {tuple(b.shape[1:3])} differs from a's {tuple(a.shape[1:3])}: scale one first",
        )
    if mode == "multiply":
        top = a * b
    elif mode == "screen":
        top = 1 - (1 - a) * (1 - b)
    elif mode == "add":
        top = (a + b).clamp(0, 1)
    elif mode == "difference":
        top = (a - b).abs()
    else:
        top = b
    return a + (top - a) * factor


SCALE_METHODS = ("bilinear", "bicubic", "nearest", "area")


@node("image.Scale", category="image/transform", outputs={"image": IMAGE})
def scale(
    image: Image,
    factor: Annotated[float, Float(0.01, 16.0, 0.05)] = 1.0,
    width: Annotated[int, Int(0, 16384)] = 0,
    height: Annotated[int, Int(0, 16384)] = 0,
    method: Annotated[str, Combo(SCALE_METHODS)] = "bilinear",
) -> Any:
    """Resize by `factor`, or to `width` x `height` when set (0 keeps the aspect ratio)."""
    import torch.nn.functional as F

    _, h, w, _ = image.shape
    if width or height:
        new_w = width or max(1, round(w * height / h))
        new_h = height or max(1, round(h * width / w))
    else:
        new_w, new_h = max(1, round(w * factor)), max(1, round(h * factor))
    if (new_w, new_h) == (w, h):
        return image
    x = image.permute(0, 3, 1, 2)
    kwargs = {"align_corners": False} if method in ("bilinear", "bicubic") else {}
    x = F.interpolate(x, size=(new_h, new_w), mode=method, **kwargs)
    return x.clamp(0, 1).permute(0, 2, 3, 1).contiguous()


@node("image.Preview", category="image/output", outputs={"image": IMAGE}, output=True)
def preview(image: Image, ctx: Context) -> Any:
    """Show the image on the node in the editor; passes it through."""
    ctx.preview(image, "image")
    return image


def to_uint8(image: Any) -> Any:
    """IMAGE [B,H,W,C] float -> numpy uint8 [B,H,W,C]."""
    return (image.clamp(0, 1) * 255 + 0.5).to(dtype=__import__("torch").uint8).cpu().numpy()


@node(
    "image.SavePNG",
    category="image/output",
    outputs={"paths": list_of(FilePath)},
    side_effects=True,
    resource="io",
    uses_params=True,  # the files embed every param value of the run
)
def save_png(
    image: Image,
    ctx: Context,
    prefix: Annotated[str, Text(placeholder="file name prefix")] = "image",
) -> Any:
    """Save each image of the batch as PNG in the output folder, with the workflow embedded."""
    from .png import encode_png

    if not prefix or any(ch in prefix for ch in "/\\\0") or prefix.startswith("."):
        raise NodeInputError("prefix", f"{prefix!r} is not a plain file name prefix")
    from .provenance import embedded_workflow

    workflow = embedded_workflow(ctx.workflow, ctx.params)
    text = {"reelgraph.workflow": json.dumps(workflow)} if workflow else {}
    paths = []
    for i, frame in enumerate(to_uint8(image)):
        path = ctx.output_path(f"{prefix}_{i:05d}.png")
        atomic_write(path, encode_png(frame, text))
        paths.append(str(path))
    return paths
