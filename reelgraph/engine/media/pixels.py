"""IMAGE values kept as 8-bit pixels until a node needs a tensor.

A title card is drawn in 8 bits. As the public IMAGE type (torch.float32
[B,H,W,C] in 0..1) it costs four times its pixels and the torch import, and a
script's list of cards is held until the motion node has used every one: on a
40-scene script, 690 MB of float32 for what is 170 MB of pixels. A node that
draws 8-bit pixels returns a `PixelImage`; the scheduler hands it to nodes as
the float tensor the type promises, unless the node declared `pixel_images=True`
(it reads `.pixels` itself, as the motion and slide nodes do). Converting is
exact: k/255 as float32 and back gives k.
"""

from __future__ import annotations

from typing import Any


class PixelImage:
    """uint8 pixels [B, H, W, 3] (numpy) standing for an IMAGE."""

    __slots__ = ("pixels",)

    def __init__(self, pixels: Any):
        import numpy as np

        a = np.asarray(pixels)
        if a.ndim == 3:
            a = a[None]
        if a.dtype != np.uint8 or a.ndim != 4 or a.shape[-1] != 3:
            raise ValueError(
                f"PixelImage needs uint8 [B,H,W,3] pixels, got {a.dtype} {tuple(a.shape)}"
            )
        a = np.ascontiguousarray(a).view()  # a view: the caller's array stays writable
        a.flags.writeable = False  # inputs are immutable: nodes copy before drawing
        self.pixels = a

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return tuple(int(x) for x in self.pixels.shape)  # type: ignore[return-value]

    @property
    def nbytes(self) -> int:
        return int(self.pixels.nbytes)

    def tensor(self) -> Any:
        """The IMAGE as the public type: torch.float32 [B,H,W,3] in 0..1."""
        import torch

        return torch.from_numpy(self.pixels.copy()).float().div_(255)

    __reelgraph_tensor__ = tensor

    def __repr__(self) -> str:
        b, h, w, _ = self.shape
        return f"PixelImage({b}x{w}x{h})"


def image_pixels(image: Any, index: int = 0) -> Any:
    """Frame `index` of an IMAGE (a PixelImage or a float tensor) as uint8 [H, W, 3]."""
    if isinstance(image, PixelImage):
        return image.pixels[index]
    return (image[index].clamp(0, 1) * 255 + 0.5).to(dtype=__import__("torch").uint8).cpu().numpy()


def as_tensor_image(value: Any) -> Any:
    """What a node that takes tensors gets for a value of an IMAGE socket: a PixelImage
    (or a list of them) becomes float tensors; anything else passes unchanged."""
    if isinstance(value, PixelImage):
        return value.tensor()
    if isinstance(value, list) and any(isinstance(v, PixelImage) for v in value):
        return [v.tensor() if isinstance(v, PixelImage) else v for v in value]
    return value
