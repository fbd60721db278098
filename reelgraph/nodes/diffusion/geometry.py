"""Size and frame rules of a model, read from its own VAE / denoiser configs (VAE
compression x patch size): LTX frames 8k+1 and sizes /32, Wan and CogVideoX frames 4k+1 and
sizes /16, SD sizes /8. Checked at validation, before anything loads."""

from __future__ import annotations

from dataclasses import dataclass

from reelgraph import models as M

from .catalog import model_class, read_json
from .families import CKPT_PREFIX, PACKED_IMAGE_CLASSES, VIDEO_FAMILIES, Family


@dataclass(frozen=True)
class Geometry:
    size_multiple: int
    frame_multiple: int = 0  # frames must be frame_multiple*k + 1 (0: any count)
    max_frames: int = 0  # 0: no limit


def geometry(name: str) -> Geometry:
    """Size and frame rules of a model, from its VAE / denoiser configs."""
    if name.startswith(CKPT_PREFIX):
        return Geometry(8)
    path = M.resolve("diffusers", name)
    cls = model_class(name)
    vae = read_json(path / "vae" / "config.json")
    den = read_json(path / "transformer" / "config.json") or read_json(
        path / "unet" / "config.json"
    )
    blocks = vae.get("block_out_channels") or [0, 0, 0, 0]
    spatial = 2 ** (len(blocks) - 1)
    if cls.startswith("LTX"):
        ups = sum(bool(x) for x in vae.get("spatio_temporal_scaling", (1, 1, 1, 0)))
        s = vae.get("spatial_compression_ratio") or vae.get("patch_size", 4) * 2**ups
        t = vae.get("temporal_compression_ratio") or vae.get("patch_size_t", 1) * 2**ups
        p = den.get("patch_size", 1)
        return Geometry(int(s * p), int(t * den.get("patch_size_t", 1)))
    if cls.startswith("Wan"):
        s = vae.get("scale_factor_spatial") or 2 ** len(vae.get("temperal_downsample", [0, 0, 0]))
        t = vae.get("scale_factor_temporal") or 2 ** sum(
            bool(x) for x in vae.get("temperal_downsample", [0, 1, 1])
        )
        patch = den.get("patch_size", [1, 2, 2])
        return Geometry(int(s * patch[-1]), int(t * patch[0]))
    if cls.startswith("CogVideoX"):
        return Geometry(
            int(spatial * den.get("patch_size", 2)), int(vae.get("temporal_compression_ratio", 4))
        )
    if cls in PACKED_IMAGE_CLASSES:  # latents packed 2x2 into tokens
        return Geometry(int(spatial * 2 * den.get("patch_size", 1)))
    if den.get("patch_size") and "transformer" in read_json(path / "model_index.json"):
        return Geometry(int(spatial * den["patch_size"]))  # SD3, PixArt, ...
    if cls == "AnimateDiffPipeline":
        adapter = read_json(path / "motion_adapter" / "config.json")
        return Geometry(spatial, 0, int(adapter.get("motion_max_seq_length", 32)))
    return Geometry(spatial)


def check_geometry(name: str, width: int, height: int, frames: int | None) -> list[tuple[str, str]]:
    try:
        g = geometry(name)
    except (M.ModelNotFound, OSError, ValueError, TypeError):
        return []
    label = VIDEO_FAMILIES.get(model_class(name), Family(model_class(name) or name, "image")).label
    out: list[tuple[str, str]] = []
    for key, v in (("width", width), ("height", height)):
        if v and v % g.size_multiple:
            lo = v // g.size_multiple * g.size_multiple
            out.append(
                (
                    key,
                    f"{label} needs {key} divisible by {g.size_multiple}, got {v} "
                    f"(try {lo or g.size_multiple} or {lo + g.size_multiple})",
                )
            )
    if frames is not None:
        m = g.frame_multiple
        if m and (frames - 1) % m:
            k = max(0, (frames - 1) // m)
            out.append(
                (
                    "frames",
                    f"{label} needs frames = {m}k+1, got {frames} "
                    f"(try {k * m + 1} or {(k + 1) * m + 1})",
                )
            )
        if g.max_frames and frames > g.max_frames:
            out.append(
                (
                    "frames",
                    f"{label} makes at most {g.max_frames} frames (its motion module's "
                    f"length), got {frames}",
                )
            )
    return out


def latent_dims(name: str, frames: int, width: int, height: int) -> tuple[int, int, int]:
    g = geometry(name)
    t = g.frame_multiple or 1
    s = g.size_multiple
    return (frames - 1) // t + 1, height // s, width // s


def size_for_image(
    multiple: int, width: int, height: int, image_hw: tuple[int, int]
) -> tuple[int, int]:
    """Width/height 0: the image's own, rounded down to the model's size multiple."""
    ih, iw = image_hw
    w = width or max(multiple, iw // multiple * multiple)
    h = height or max(multiple, ih // multiple * multiple)
    return w, h
