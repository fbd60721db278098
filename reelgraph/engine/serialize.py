"""msgpack encoding of cached values, with tensors as raw buffers.

Tensors and numpy arrays become (dtype, shape, bytes) ext records; node packs
register codecs for their own value classes (e.g. AUDIO) with
`register_codec`. A value nobody can encode raises `NotSerializable`, and the
disk tier simply keeps it in memory only.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgpack

EXT_TENSOR = 1
EXT_NDARRAY = 2
EXT_TUPLE = 3
EXT_CODEC = 4


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
        dtype = str(t.dtype).removeprefix("torch.")
        # bfloat16 has no numpy twin: ship its bits as int16.
        raw = t.view(torch.int16) if t.dtype == torch.bfloat16 else t
        return msgpack.ExtType(EXT_TENSOR, packb([dtype, list(t.shape), raw.numpy().tobytes()]))
    np = sys.modules.get("numpy")
    ndarray_cls = getattr(np, "ndarray", None)
    if ndarray_cls is not None and isinstance(obj, ndarray_cls):
        a = np.ascontiguousarray(obj)
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


def packb(value: Any) -> bytes:
    try:
        return msgpack.packb(value, default=_default, use_bin_type=True, strict_types=True)
    except NotSerializable:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise NotSerializable(str(exc)) from None


def unpackb(data: bytes) -> Any:
    return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)
