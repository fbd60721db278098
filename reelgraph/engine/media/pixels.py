"""IMAGE values kept as 8-bit pixels until a node needs a tensor.

A title card is drawn in 8 bits. As the public IMAGE type (torch.float32
[B,H,W,C] in 0..1) it costs four times its pixels and the torch import, and a
script's list of cards is held until the motion node has used every one: on a
40-scene script, 690 MB of float32 for what is 170 MB of pixels. A node that
draws 8-bit pixels returns a `PixelImage`; the scheduler hands it to nodes as
the float tensor the type promises, unless the node declared `pixel_images=True`
(it reads `.pixels` itself, as the motion and slide nodes do). Converting is
exact: k/255 as float32 and back gives k.

Even in 8 bits the cards are what a long render holds most of while its narration
is spoken (the motion node takes the list once every scene has its voice), so a
PixelImage keeps each frame of 1 MiB and more packed, losslessly (`pack_frame`:
a quarter of the pixels for a card), and unpacks it when it is read. The packed
bytes themselves wait on disk (`spill.SpilledBytes`), not in memory: the 40 cards of
bench/data/long_article.md were 44 MB held through the narration and the encode.
The value is the same either way: same pixels, same keys.
"""

from __future__ import annotations

import zlib
from typing import Any

from .spill import SpilledBytes

PACK_MIN_BYTES = 1 << 20  # frames from this size up are held packed


def pack_frame(frame: Any) -> bytes:
    """uint8 [H, W, C] losslessly packed: each pixel's difference from its left
    neighbour (mod 256), Huffman-coded. Smooth gradients, their dither and flat text
    leave small differences that code in about two bits; no match search, so it is
    three times faster than PNG's (and about as small)."""
    import numpy as np

    d = np.array(frame, np.uint8, copy=True)
    np.subtract(frame[:, 1:], frame[:, :-1], out=d[:, 1:])
    z = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_HUFFMAN_ONLY)
    return z.compress(d.data) + z.flush()


def content_digest(a: Any) -> bytes:
    """A content hash of an array's shape, dtype and bytes (16 bytes)."""
    import hashlib

    import numpy as np

    a = np.ascontiguousarray(a)
    h = hashlib.blake2b(repr((a.shape, a.dtype.str)).encode(), digest_size=16)
    h.update(a.data)
    return h.digest()


def unpack_frame(data: bytes, shape: tuple[int, ...]) -> Any:
    """`pack_frame` undone: the same uint8 [H, W, C] array."""
    import numpy as np

    d = np.frombuffer(zlib.decompress(data), np.uint8).reshape(shape)
    return np.cumsum(d, axis=1, dtype=np.uint8)


class PixelImage:
    """uint8 pixels [B, H, W, 3] (numpy) standing for an IMAGE. `pixels` and `frame(i)`
    are read-only; a frame held packed is unpacked on every read, so a node that reads
    one more than once keeps the array it got."""

    __slots__ = ("_digests", "_packed", "_pixels", "_shape")

    def __init__(self, pixels: Any):
        import numpy as np

        a = np.asarray(pixels)
        if a.ndim == 3:
            a = a[None]
        if a.dtype != np.uint8 or a.ndim != 4 or a.shape[-1] != 3:
            raise ValueError(
                f"PixelImage needs uint8 [B,H,W,3] pixels, got {a.dtype} {tuple(a.shape)}"
            )
        self._shape = tuple(int(x) for x in a.shape)
        self._digests: tuple[bytes, ...] = ()
        if a[0].nbytes >= PACK_MIN_BYTES:
            self._pixels = None
            self._packed = tuple(SpilledBytes(pack_frame(f)) for f in a)
            # hashed while the pixels are at hand: keying a frame later needs no unpacking
            self._digests = tuple(content_digest(f) for f in a)
        else:
            a = np.ascontiguousarray(a).view()  # a view: the caller's array stays writable
            a.flags.writeable = False  # inputs are immutable: nodes copy before drawing
            self._pixels, self._packed = a, ()

    @property
    def pixels(self) -> Any:
        """uint8 [B, H, W, 3], read-only."""
        if self._pixels is not None:
            return self._pixels
        import numpy as np

        a = np.stack([self.frame(i) for i in range(self._shape[0])])
        a.flags.writeable = False
        return a

    def frame(self, index: int = 0) -> Any:
        """Frame `index` as uint8 [H, W, 3], read-only."""
        if self._pixels is not None:
            return self._pixels[index]
        f = unpack_frame(self._packed[index].read(), self._shape[1:])
        f.flags.writeable = False
        return f

    @property
    def packed(self) -> bool:
        return self._pixels is None

    def frame_digest(self, index: int = 0) -> bytes:
        """`content_digest` of frame `index`, the same packed or not; a packed frame's
        is kept from when it was packed (unpacking a 1080p card to hash it cost 80 ms)."""
        if index < len(self._digests):
            return self._digests[index]
        return content_digest(self.frame(index))

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return self._shape  # type: ignore[return-value]

    @property
    def nbytes(self) -> int:
        """Bytes the value stands for (the memory cache budgets by this): its pixels, or
        its packed frames, in memory or spilled (a memory tier that kept spilled images
        for free would keep their files without bound)."""
        if self._pixels is not None:
            return int(self._pixels.nbytes)
        return sum(p.size for p in self._packed)

    def to_value(self) -> Any:
        """For the disk cache: the packed frames as they are (nothing packed again),
        else the pixels."""
        if self._pixels is not None:
            return self._pixels
        return [list(self._shape), [p.read() for p in self._packed], list(self._digests)]

    @classmethod
    def from_value(cls, value: Any) -> PixelImage:
        if not isinstance(value, list):  # pixels (and entries written before packing)
            return cls(value)
        shape, frames, *rest = value  # entries written before digests have none
        digests = rest[0] if rest else []
        if len(shape) != 4 or shape[-1] != 3 or len(frames) != shape[0]:
            raise ValueError(f"inconsistent packed image: shape {shape}, {len(frames)} frames")
        if len(digests) not in (0, len(frames)):
            raise ValueError(f"inconsistent packed image: {len(digests)} digests")
        out = cls.__new__(cls)
        out._shape = tuple(int(x) for x in shape)
        out._pixels, out._packed = None, tuple(SpilledBytes(bytes(f)) for f in frames)
        out._digests = tuple(bytes(d) for d in digests)
        return out

    def __reduce__(self) -> tuple:
        # another process gets the packed bytes, not paths of this one's spill folder
        return (PixelImage.from_value, (self.to_value(),))

    def tensor(self) -> Any:
        """The IMAGE as the public type: torch.float32 [B,H,W,3] in 0..1."""
        import torch

        return torch.from_numpy(self.pixels.copy()).float().div_(255)

    __reelgraph_tensor__ = tensor

    def __repr__(self) -> str:
        b, h, w, _ = self.shape
        return f"PixelImage({b}x{w}x{h}{', packed' if self.packed else ''})"


def image_pixels(image: Any, index: int = 0) -> Any:
    """Frame `index` of an IMAGE (a PixelImage or a float tensor) as uint8 [H, W, 3]."""
    if isinstance(image, PixelImage):
        return image.frame(index)
    return (image[index].clamp(0, 1) * 255 + 0.5).to(dtype=__import__("torch").uint8).cpu().numpy()


def as_tensor_image(value: Any) -> Any:
    """What a node that takes tensors gets for a value of an IMAGE socket: a PixelImage
    (or a list of them) becomes float tensors; anything else passes unchanged."""
    if isinstance(value, PixelImage):
        return value.tensor()
    if isinstance(value, list) and any(isinstance(v, PixelImage) for v in value):
        return [v.tensor() if isinstance(v, PixelImage) else v for v in value]
    return value
