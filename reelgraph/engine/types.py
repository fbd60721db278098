"""Socket types and the one compatibility rule set.

Validation, the server (/api/types) and the editor all ask `compatibility()`;
nothing else decides whether an output may feed an input.

A type is named by a string: a base name such as "IMAGE", or "list[IMAGE]".
Node authors annotate inputs with the aliases at the bottom of this module
(`Image`, `Video`, `list_of(Image)`...), so a node's signature is its contract.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, Any


@dataclass(frozen=True)
class SocketType:
    """A named type of value that flows along a wire."""

    name: str
    color: str
    description: str = ""
    # Primitive types get a widget when unlinked (INT, FLOAT, BOOL, TEXT).
    primitive: bool = False

    @property
    def list(self) -> str:
        return f"list[{self.name}]"

    def __str__(self) -> str:
        return self.name


_TYPES: dict[str, SocketType] = {}


def register_type(
    name: str, color: str, description: str = "", *, primitive: bool = False
) -> SocketType:
    """Declare a socket type. Node packs may add their own (e.g. model handles)."""
    if not name or not name.replace("_", "").replace(":", "").isalnum() or not name.isupper():
        raise ValueError(f"type name {name!r} must be UPPER_CASE letters, digits, '_' or ':'")
    existing = _TYPES.get(name)
    if existing is not None:
        return existing
    t = SocketType(name, color, description, primitive)
    _TYPES[name] = t
    return t


ANY = register_type("ANY", "#9aa0a6", "Any value; checked when the node runs")
TEXT = register_type("TEXT", "#8bc34a", "A string", primitive=True)
INT = register_type("INT", "#4fc3f7", "An integer", primitive=True)
FLOAT = register_type("FLOAT", "#4db6ac", "A float", primitive=True)
BOOL = register_type("BOOL", "#f06292", "True or false", primitive=True)
IMAGE = register_type("IMAGE", "#64b5f6", "torch.float32 [B,H,W,C] in 0..1")
MASK = register_type("MASK", "#81c784", "torch.float32 [B,H,W] in 0..1")
VIDEO = register_type("VIDEO", "#ffb74d", "Streamed video: fps, size, frame count, chunks(n)")
AUDIO = register_type("AUDIO", "#ba68c8", "float32 [C,N] samples + sample rate")
# A list of scenes is list[SCENE]: nodes that handle one scene are mapped over it.
SCENE = register_type("SCENE", "#ffd54f", "One scene: title, narration, visual prompt")
SUBTITLES = register_type("SUBTITLES", "#a1887f", "List of cues (start, end, text)")
PATH = register_type("PATH", "#90a4ae", "A file written or read by a node")


def is_list_type(name: str) -> bool:
    return name.startswith("list[") and name.endswith("]")


def element_type(name: str) -> str:
    """`list[T]` -> `T`; anything else is returned unchanged."""
    return name[5:-1] if is_list_type(name) else name


def list_of_name(name: str) -> str:
    return f"list[{name}]"


def is_known_type(name: str) -> bool:
    base = element_type(name)
    return base in _TYPES and not is_list_type(base)


class Compat(enum.Enum):
    """How a value of one type may feed an input of another."""

    NO = "no"
    YES = "yes"  # passes as it is
    MAP = "map"  # list[T] into T: the node runs once per element
    WRAP = "wrap"  # T into list[T]: a one-element list
    WIDEN = "widen"  # INT into FLOAT


def compatibility(source: str, target: str) -> Compat:
    """The single rule set: can an output of type `source` feed an input of type `target`?"""
    if source == target:
        return Compat.YES
    if target == ANY.name or source == ANY.name:
        return Compat.YES
    src_list, dst_list = is_list_type(source), is_list_type(target)
    if src_list and dst_list:
        inner = compatibility(element_type(source), element_type(target))
        return Compat.YES if inner in (Compat.YES, Compat.WIDEN) else Compat.NO
    if src_list and not dst_list:
        inner = compatibility(element_type(source), target)
        return Compat.MAP if inner in (Compat.YES, Compat.WIDEN) else Compat.NO
    if dst_list and not src_list:
        inner = compatibility(source, element_type(target))
        return Compat.WRAP if inner in (Compat.YES, Compat.WIDEN) else Compat.NO
    if source == INT.name and target == FLOAT.name:
        return Compat.WIDEN
    return Compat.NO


def types_document() -> dict[str, Any]:
    """What /api/types publishes: colours, and the rules as a table the editor can apply."""
    names = sorted(_TYPES)
    return {
        "types": {
            n: {"color": t.color, "description": t.description, "primitive": t.primitive}
            for n, t in sorted(_TYPES.items())
        },
        "rules": [
            "same type connects",
            "ANY connects to and from anything",
            "INT widens to FLOAT",
            "list[T] into T runs the node once per element (map)",
            "T into list[T] becomes a one-element list (wrap)",
        ],
        "widening": [[INT.name, FLOAT.name]],
        "list_prefix": "list[",
        "all": names,
    }


# Annotation aliases for node signatures. The second Annotated argument is the
# socket type name; the first is only for readers and type checkers.
Image = Annotated[Any, IMAGE.name]
Mask = Annotated[Any, MASK.name]
Video = Annotated[Any, VIDEO.name]
Audio = Annotated[Any, AUDIO.name]
Scene = Annotated[Any, SCENE.name]
Scenes = Annotated[list, SCENE.list]
Subtitles = Annotated[list, SUBTITLES.name]
AnyValue = Annotated[Any, ANY.name]
FilePath = Annotated[str, PATH.name]


def socket(type_name: str | SocketType) -> Any:
    """An annotation for a socket of any registered type, e.g. `socket("PIPELINE")`."""
    name = type_name.name if isinstance(type_name, SocketType) else type_name
    return Annotated[Any, name]


def list_of(alias: Any) -> Any:
    """`list_of(Image)` annotates an input that takes the whole list[IMAGE]."""
    meta = getattr(alias, "__metadata__", None)
    if not meta or not isinstance(meta[0], str):
        raise TypeError("list_of() takes a socket alias such as Image or socket('NAME')")
    return Annotated[list, list_of_name(meta[0])]
