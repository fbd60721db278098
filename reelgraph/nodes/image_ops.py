"""Image nodes built on OpenCV / Pillow: load, resize/crop/pad, composite, colour adjust.

IMAGE is torch float32 [B,H,W,C] in 0..1 (see nodes/image.py); saving with the
workflow embedded is image.SavePNG there.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

from reelgraph import (
    IMAGE,
    INT,
    MASK,
    Combo,
    Float,
    Image,
    Int,
    Mask,
    NodeInputError,
    Text,
    file_fingerprint,
    list_of,
    node,
)

from .image import parse_hex_color

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def _hash_file(values: dict[str, Any]) -> str:
    # Size, mtime and head/tail hash: bounded time, regular files only (never /dev/zero).
    return file_fingerprint(str(values.get("path", "")))


def _exists(values: dict[str, Any]) -> list[tuple[str, str]]:
    p = str(values.get("path", ""))
    if not p:
        return [("path", "no file given")]
    return [] if Path(p).is_file() else [("path", f"no such file: {p}")]


def read_image(path: str | Path, input_name: str = "path") -> tuple[Any, Any]:
    """(rgb float [1,H,W,3], alpha float [1,H,W]) from any file Pillow reads."""
    import numpy as np
    import torch
    from PIL import Image as PILImage
    from PIL import ImageOps

    try:
        with PILImage.open(path) as im:
            im = ImageOps.exif_transpose(im)
            rgba = np.asarray(im.convert("RGBA"))
    except Exception as exc:
        raise NodeInputError(
            input_name, f"cannot read {Path(path).name} as an image: {exc}"
        ) from None
    t = torch.from_numpy(rgba.copy()).float().div_(255)
    return t[None, ..., :3].contiguous(), t[None, ..., 3].contiguous()


@node(
    "image.Load",
    category="image/source",
    outputs={"image": IMAGE, "alpha": MASK},
    resource="io",
    fingerprint=_hash_file,
    validate=_exists,
)
def load(path: Annotated[str, Text(upload="image")]) -> Any:
    """An image file (PNG, JPEG, WebP…), EXIF orientation applied. The cache key
    includes a hash of the file's bytes, so editing the file re-runs what depends on it."""
    return read_image(path)


def _folder_fingerprint(values: dict[str, Any]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for p in _folder_files(str(values.get("folder", ""))):
        h.update(p.name.encode("utf-8", "surrogateescape"))
        h.update(file_fingerprint(p).encode())
    return h.hexdigest()


def _folder_files(folder: str) -> list[Path]:
    d = Path(folder)
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _folder_ok(values: dict[str, Any]) -> list[tuple[str, str]]:
    folder = str(values.get("folder", ""))
    if not Path(folder).is_dir():
        return [("folder", f"no such folder: {folder}")]
    if not _folder_files(folder):
        return [("folder", f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")]
    return []


@node(
    "image.LoadFolder",
    category="image/source",
    outputs={"images": list_of(Image), "count": INT},
    resource="io",
    fingerprint=_folder_fingerprint,
    validate=_folder_ok,
)
def load_folder(
    folder: Annotated[str, Text(placeholder="path/to/images")],
    limit: Annotated[int, Int(0, 10000)] = 0,
) -> Any:
    """Every image in a folder, sorted by name (`limit` > 0 keeps the first n)."""
    files = _folder_files(folder)
    if limit:
        files = files[:limit]
    if not files:
        raise NodeInputError("folder", f"no images in {folder}")
    images = [read_image(p, "folder")[0] for p in files]
    return images, len(images)


FIT = ("cover", "contain", "stretch")


@node("image.Resize", category="image/transform", outputs={"image": IMAGE})
def resize(
    image: Image,
    width: Annotated[int, Int(1, 16384)] = 1280,
    height: Annotated[int, Int(1, 16384)] = 720,
    fit: Annotated[str, Combo(FIT)] = "cover",
    pad_color: str = "#000000",
) -> Any:
    """Resize to exactly width x height: `cover` fills and crops the overflow, `contain`
    fits inside and pads with `pad_color`, `stretch` ignores the aspect ratio."""
    import cv2
    import numpy as np
    import torch

    try:
        bg = np.array(parse_hex_color(pad_color), np.float32)
    except ValueError as exc:
        raise NodeInputError("pad_color", str(exc)) from None
    out = []
    for img in image.cpu().numpy():
        h, w = img.shape[:2]
        if fit == "stretch":
            nw, nh = width, height
        else:
            s = (max if fit == "cover" else min)(width / w, height / h)
            nw, nh = max(1, round(w * s)), max(1, round(h * s))
        r = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if nw < w else cv2.INTER_CUBIC)
        canvas = np.empty((height, width, 3), np.float32)
        canvas[:] = bg
        x0, y0 = (width - nw) // 2, (height - nh) // 2
        sx, sy = max(0, -x0), max(0, -y0)
        dx, dy = max(0, x0), max(0, y0)
        cw, ch = min(nw - sx, width - dx), min(nh - sy, height - dy)
        canvas[dy : dy + ch, dx : dx + cw] = r[sy : sy + ch, sx : sx + cw]
        out.append(canvas)
    return torch.from_numpy(np.stack(out)).clamp_(0, 1)


@node("image.Crop", category="image/transform", outputs={"image": IMAGE})
def crop(
    image: Image,
    x: Annotated[int, Int(0, 16384)] = 0,
    y: Annotated[int, Int(0, 16384)] = 0,
    width: Annotated[int, Int(1, 16384)] = 512,
    height: Annotated[int, Int(1, 16384)] = 512,
) -> Any:
    """Cut out a rectangle (pixels from the top left)."""
    _, h, w, _ = image.shape
    if x >= w or y >= h:
        raise NodeInputError("x", f"({x}, {y}) lies outside the {w}x{h} image")
    return image[:, y : min(h, y + height), x : min(w, x + width)].contiguous()


@node("image.Pad", category="image/transform", outputs={"image": IMAGE})
def pad(
    image: Image,
    left: Annotated[int, Int(0, 8192)] = 0,
    top: Annotated[int, Int(0, 8192)] = 0,
    right: Annotated[int, Int(0, 8192)] = 0,
    bottom: Annotated[int, Int(0, 8192)] = 0,
    color: str = "#000000",
) -> Any:
    """Add borders of a colour."""
    import torch

    try:
        rgb = torch.tensor(parse_hex_color(color))
    except ValueError as exc:
        raise NodeInputError("color", str(exc)) from None
    b, h, w, _ = image.shape
    out = rgb.expand(b, h + top + bottom, w + left + right, 3).clone()
    out[:, top : top + h, left : left + w] = image
    return out


@node("image.Composite", category="image/composite", outputs={"image": IMAGE})
def composite(
    base: Image,
    overlay: Image,
    mask: Mask = None,
    x: Annotated[int, Int(-16384, 16384)] = 0,
    y: Annotated[int, Int(-16384, 16384)] = 0,
    opacity: Annotated[float, Float(0.0, 1.0, 0.05)] = 1.0,
) -> Any:
    """Place `overlay` on `base` with its top left at (x, y), through `mask` (e.g. the
    alpha of a loaded PNG) and `opacity`; parts outside the base are clipped."""
    out = base.clone()
    _, H, W, _ = base.shape
    _, h, w, _ = overlay.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x0 >= x1 or y0 >= y1:
        return out
    src = overlay[:, y0 - y : y1 - y, x0 - x : x1 - x]
    a = opacity
    if mask is not None:
        if mask.shape[1:] != overlay.shape[1:3]:
            raise NodeInputError(
                "mask", f"mask is {tuple(mask.shape[1:])}, overlay {tuple(overlay.shape[1:3])}"
            )
        a = mask[:, y0 - y : y1 - y, x0 - x : x1 - x, None] * opacity
    region = out[:, y0:y1, x0:x1]
    out[:, y0:y1, x0:x1] = region + (src - region) * a
    return out


@node("image.ColorAdjust", category="image/adjust", outputs={"image": IMAGE})
def color_adjust(
    image: Image,
    brightness: Annotated[float, Float(-1.0, 1.0, 0.01)] = 0.0,
    contrast: Annotated[float, Float(0.0, 3.0, 0.01)] = 1.0,
    saturation: Annotated[float, Float(0.0, 3.0, 0.01)] = 1.0,
    gamma: Annotated[float, Float(0.1, 5.0, 0.01)] = 1.0,
) -> Any:
    """Brightness (added), contrast (around mid grey), saturation (around luma, Rec. 709)
    and gamma."""
    x = image
    if gamma != 1.0:
        x = x.clamp(0, 1) ** (1.0 / gamma)
    x = (x - 0.5) * contrast + 0.5 + brightness
    if saturation != 1.0:
        luma = (x[..., :3] * x.new_tensor([0.2126, 0.7152, 0.0722])).sum(-1, keepdim=True)
        x = luma + (x - luma) * saturation
    return x.clamp(0, 1)
