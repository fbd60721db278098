"""msgpack encoding of cached values, with tensors as raw buffers.

Tensors and numpy arrays become (dtype, shape, bytes) ext records; node packs
register codecs for their own value classes (e.g. AUDIO) with
`register_codec`. A value nobody can encode raises `NotSerializable`, and the
disk tier simply keeps it in memory only.

Large tensors are stored compactly and losslessly: a float32 tensor whose values
are all k/255 (an IMAGE made from 8-bit pixels) as its uint8 codes, one whose
values are all k/32768 (speech from a 16-bit voice) as int16, and integer data
deflated with zlib. Decoding gives back the same bits.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgpack

EXT_TENSOR = 1
EXT_NDARRAY = 2
EXT_TUPLE = 3
EXT_CODEC = 4
EXT_PACKED = 5  # [dtype, shape, scheme, zlib(codes)]: a tensor stored compactly

PACK_MIN_BYTES = 1 << 16  # below this, compacting costs more than it saves
_SCALES = {"u8/255": ("uint8", 255.0), "i16/32768": ("int16", 32768.0)}


class NotSerializable(TypeError):
    pass


@dataclass(frozen=True)
class Codec:
    name: str
    cls: type
    encode: Callable[[Any], Any]  # value -> msgpack-able object (may hold tensors)
    decode: Callable[[Any], Any]


_CODECS_BY_NAME: dict[str, Codec] = {}
_CODECS_BY_CLASS: dict[type, Codec] = {}


def register_codec(
    cls: type, name: str, encode: Callable[[Any], Any], decode: Callable[[Any], Any]
) -> None:
    codec = Codec(name, cls, encode, decode)
    _CODECS_BY_NAME[name] = codec
    _CODECS_BY_CLASS[cls] = codec


def _deflate(raw: bytes) -> tuple[str, bytes]:
    """zlib when a sample of the data compresses, else the bytes as they are (noise
    costs time to deflate and saves nothing)."""
    sample = raw[: 1 << 18]
    if len(zlib.compress(sample, 1)) > 0.85 * len(sample):
        return "", raw
    return "z", zlib.compress(raw, 1)


def _inflate(how: str, data: bytes) -> bytes:
    return zlib.decompress(data) if how == "z" else data


def _packed_tensor(t: Any) -> msgpack.ExtType | None:
    """A float32 tensor of exact 8/16-bit codes, or an integer tensor, compacted; None
    when neither fits (the value is stored raw)."""
    import numpy as np

    a = t.numpy() if t.dtype != sys.modules["torch"].bfloat16 else None
    if a is None:
        return None
    if a.dtype == np.float32:
        for scheme, (dtype, scale) in _SCALES.items():
            info = np.iinfo(dtype)
            scaled = a * np.float32(scale)
            if not (info.min <= float(scaled.min()) and float(scaled.max()) <= info.max):
                continue
            codes = np.rint(scaled).astype(dtype)
            if not np.array_equal(_unscale(codes, scale), a):
                continue
            how, data = _deflate(codes.tobytes())
            return msgpack.ExtType(
                EXT_PACKED, packb(["float32", list(a.shape), scheme + how, data])
            )
        return None
    if a.dtype.kind in "uib":
        how, data = _deflate(a.tobytes())
        return msgpack.ExtType(EXT_PACKED, packb([a.dtype.str, list(a.shape), "raw" + how, data]))
    return None


def _unscale(codes: Any, scale: float) -> Any:
    """Codes back to float32, exactly as the encoder checked them."""
    import numpy as np

    return codes.astype(np.float32) / np.float32(scale)


def _unpacked(data: bytes) -> Any:
    import numpy as np

    dtype, shape, scheme, raw = unpackb(data)
    how = "z" if scheme.endswith("z") else ""
    scheme = scheme.removesuffix("z") if how else scheme
    raw = _inflate(how, raw)
    if scheme == "np":
        return np.frombuffer(raw, dtype=np.dtype(dtype)).copy().reshape(shape)
    import torch

    if scheme == "raw":
        return torch.from_numpy(np.frombuffer(raw, dtype=np.dtype(dtype)).copy().reshape(shape))
    code_dtype, scale = _SCALES[scheme]
    codes = np.frombuffer(raw, dtype=np.dtype(code_dtype)).reshape(shape)
    return torch.from_numpy(_unscale(codes, scale))


def _default(obj: Any) -> Any:
    # Registered codecs first: a NamedTuple or dict subclass must keep its class.
    codec = _CODECS_BY_CLASS.get(type(obj))
    if codec is not None:
        return msgpack.ExtType(EXT_CODEC, packb([codec.name, codec.encode(obj)]))
    if isinstance(obj, tuple):
        return msgpack.ExtType(EXT_TUPLE, packb(list(obj)))
    torch = sys.modules.get("torch")
    tensor_cls = getattr(torch, "Tensor", None)  # None while another thread imports torch
    if tensor_cls is not None and isinstance(obj, tensor_cls):
        t = obj.detach().to("cpu").contiguous()
        if t.element_size() * t.nelement() >= PACK_MIN_BYTES:
            packed = _packed_tensor(t)
            if packed is not None:
                return packed
        dtype = str(t.dtype).removeprefix("torch.")
        # bfloat16 has no numpy twin: ship its bits as int16.
        raw = t.view(torch.int16) if t.dtype == torch.bfloat16 else t
        return msgpack.ExtType(EXT_TENSOR, packb([dtype, list(t.shape), raw.numpy().tobytes()]))
    np = sys.modules.get("numpy")
    ndarray_cls = getattr(np, "ndarray", None)
    if ndarray_cls is not None and isinstance(obj, ndarray_cls):
        a = np.ascontiguousarray(obj)
        if a.nbytes >= PACK_MIN_BYTES and a.dtype.kind in "uib":
            how, data = _deflate(a.tobytes())
            return msgpack.ExtType(
                EXT_PACKED, packb([a.dtype.str, list(a.shape), "np" + how, data])
            )
        return msgpack.ExtType(EXT_NDARRAY, packb([a.dtype.str, list(a.shape), a.tobytes()]))
    raise NotSerializable(f"cannot store a {type(obj).__module__}.{type(obj).__qualname__} on disk")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == EXT_TUPLE:
        return tuple(unpackb(data))
    if code == EXT_TENSOR:
        import numpy as np
        import torch

        dtype, shape, raw = unpackb(data)
        if dtype == "bfloat16":
            arr = np.frombuffer(raw, dtype=np.int16).copy().reshape(shape)
            return torch.from_numpy(arr).view(torch.bfloat16)
        t = (
            torch.frombuffer(bytearray(raw), dtype=getattr(torch, dtype))
            if raw
            else torch.empty(0, dtype=getattr(torch, dtype))
        )
        return t.reshape(shape)
    if code == EXT_PACKED:
        return _unpacked(data)
    if code == EXT_NDARRAY:
        import numpy as np

        dtype, shape, raw = unpackb(data)
        return np.frombuffer(raw, dtype=np.dtype(dtype)).copy().reshape(shape)
    if code == EXT_CODEC:
        name, payload = unpackb(data)
        codec = _CODECS_BY_NAME.get(name)
        if codec is None:
            raise ValueError(f"no codec {name!r} registered (is its node pack loaded?)")
        return codec.decode(payload)
    raise ValueError(f"unknown ext type {code}")


def can_pack(value: Any, _depth: int = 0) -> bool:
    """Whether `packb` would take the value, found by its types (cheap: no bytes made)."""
    if value is None or isinstance(value, (str, bytes, bytearray, bool, int, float)):
        return True
    if type(value) in _CODECS_BY_CLASS:
        return True
    if _depth > 6:
        return False
    if isinstance(value, (list, tuple)):
        return all(can_pack(v, _depth + 1) for v in value)
    if isinstance(value, dict):
        return all(can_pack(k, _depth + 1) and can_pack(v, _depth + 1) for k, v in value.items())
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, getattr(torch, "Tensor", ())):
        return True
    np = sys.modules.get("numpy")
    return np is not None and isinstance(value, getattr(np, "ndarray", ()))


def packb(value: Any) -> bytes:
    try:
        return msgpack.packb(value, default=_default, use_bin_type=True, strict_types=True)
    except NotSerializable:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise NotSerializable(str(exc)) from None


def unpackb(data: bytes) -> Any:
    return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)
