"""How a node is declared: a plain function plus the `@node` decorator.

    @node("image.Invert", category="image/adjust", outputs={"image": IMAGE})
    def invert(image: Image, amount: Annotated[float, Float(0.0, 1.0, 0.05)] = 1.0) -> Any:
        "Invert colours, blended with the original by `amount`."
        return image * (1 - amount) + (1 - image) * amount

The signature is the schema: socket inputs are annotated with a type alias
(`Image`, `Video`, `socket("NAME")`), widgets with `Annotated[T, Int|Float|Text|
Bool|Combo(...)]` or a bare int/float/str/bool. The docstring is the description.
A parameter named `ctx` receives the run `Context`. The function stays a plain,
testable function: the decorator only attaches a `NodeType` to it.
"""

from __future__ import annotations

import inspect
import itertools
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .code_hash import code_hash, snapshot_pack
from .types import (
    BOOL,
    FLOAT,
    INT,
    TEXT,
    SocketType,
    is_known_type,
)

RESOURCE_CLASSES = ("cpu", "gpu", "io")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


# --- widgets ---------------------------------------------------------------


@dataclass(frozen=True)
class Widget:
    """How an unlinked primitive input is edited, and the values it accepts."""

    kind: str  # INT | FLOAT | BOOL | STRING | COMBO
    min: float | None = None
    max: float | None = None
    step: float | None = None
    multiline: bool = False
    placeholder: str = ""
    options: tuple[Any, ...] | Callable[[], Sequence[Any]] | None = None
    # "seed": the editor offers fixed / increment / randomize after each queue.
    role: str = ""
    # Upload pickers in the editor: "image" | "audio" | "video".
    upload: str = ""
    # COMBO: what to do when the value is not an option (e.g. where to put a model file).
    hint: str | Callable[[], str] = ""

    @property
    def socket_type(self) -> str:
        return {
            "INT": INT.name,
            "FLOAT": FLOAT.name,
            "BOOL": BOOL.name,
            "STRING": TEXT.name,
            "COMBO": TEXT.name,
        }[self.kind]

    def option_values(self) -> list[Any]:
        if self.options is None:
            return []
        if callable(self.options):
            return list(self.options())
        return list(self.options)

    def check(self, value: Any) -> str | None:
        """None when `value` is acceptable, else what is wrong with it. Total over JSON
        values: huge integers, 1e400 (inf), NaN and lone surrogates get a message too."""
        if self.kind == "BOOL":
            return None if isinstance(value, bool) else f"expected true/false, got {_short(value)}"
        if self.kind in ("INT", "FLOAT"):
            return self._check_number(value)
        if self.kind == "STRING":
            if not isinstance(value, str):
                return f"expected text, got {_short(value)}"
            return _check_text(value)
        if self.kind == "COMBO":
            options = self.option_values()
            try:
                known = value in options
            except Exception:  # an option type whose == refuses the value
                known = False
            if not known:
                shown = ", ".join(_short(o) for o in options[:12]) or "none available"
                more = f" (+{len(options) - 12} more)" if len(options) > 12 else ""
                hint = self.hint() if callable(self.hint) else self.hint
                return f"{_short(value)} is not one of the options: {shown}{more}" + (
                    f"; {hint}" if hint else ""
                )
            return None
        return None

    def _check_number(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"expected a number, got {_short(value)}"
        if isinstance(value, float):
            if value != value:
                return "expected a number, got NaN"
            if value in (float("inf"), float("-inf")):
                return f"expected a finite number, got {value}"
            if self.kind == "INT" and not value.is_integer():
                return f"expected an integer, got {value}"
        if self.kind == "FLOAT" and isinstance(value, int) and abs(value) > FLOAT_LIMIT:
            return f"{_short(value)} is out of range for a float"
        if self.kind == "INT" and abs(value) > INT_LIMIT:
            return f"{_short(value)} is out of range: integers are between -2**63 and 2**63-1"
        if self.min is not None and value < self.min:
            return f"{_short(value)} is below the minimum {self.min:g}"
        if self.max is not None and value > self.max:
            return f"{_short(value)} is above the maximum {self.max:g}"
        return None

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for key in ("min", "max", "step"):
            v = getattr(self, key)
            if v is not None:
                out[key] = v
        if self.kind == "STRING":
            out["multiline"] = self.multiline
            if self.placeholder:
                out["placeholder"] = self.placeholder
        if self.kind == "COMBO":
            out["options"] = self.option_values()
            out["dynamic"] = callable(self.options)
        if self.role:
            out["role"] = self.role
        if self.upload:
            out["upload"] = self.upload
        return out


INT_LIMIT = 2**63 - 1  # INT widgets hold 64-bit integers (what tensors and seeds take)
FLOAT_LIMIT = 2**1023  # about the largest finite float: an int past it cannot be one


def _short(value: Any) -> str:
    """A value for a message, never raising (repr of a 5000-digit int does) and never
    more than 60 characters."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def _check_text(value: str) -> str | None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (
            f"the text holds a lone surrogate ({value[exc.start]!r} at character {exc.start}), "
            "which is not valid Unicode"
        )
    return None


def Int(min: int | None = None, max: int | None = None, step: int = 1) -> Widget:
    return Widget("INT", min, max, step)


def Float(min: float | None = None, max: float | None = None, step: float = 0.01) -> Widget:
    return Widget("FLOAT", min, max, step)


def Text(*, multiline: bool = False, placeholder: str = "", upload: str = "") -> Widget:
    return Widget("STRING", multiline=multiline, placeholder=placeholder, upload=upload)


def Bool() -> Widget:
    return Widget("BOOL")


def Combo(
    options: Sequence[Any] | Callable[[], Sequence[Any]],
    *,
    upload: str = "",
    hint: str | Callable[[], str] = "",
) -> Widget:
    """A choice among options; pass a callable for options found at run time (models on
    disk). `hint` (text, or a callable for text computed then) follows the error when a
    value is not an option, e.g. which folder the model should be in."""
    opts = options if callable(options) else tuple(options)
    return Widget("COMBO", options=opts, upload=upload, hint=hint)


def Seed() -> Widget:
    return Widget("INT", 0, 2**63 - 1, 1, role="seed")


_DEFAULT_WIDGETS: dict[type, Widget] = {
    int: Int(),
    float: Float(),
    bool: Bool(),
    str: Text(),
}


# --- inputs, outputs, node types -------------------------------------------


@dataclass(frozen=True)
class InputSpec:
    name: str
    type: str
    widget: Widget | None = None  # None: a socket that must be linked
    default: Any = MISSING
    optional: bool = False

    @property
    def required(self) -> bool:
        return not self.optional and self.default is MISSING

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "optional": self.optional}
        if self.widget is not None:
            out["widget"] = self.widget.schema()
        if self.default is not MISSING:
            out["default"] = self.default
        return out


@dataclass(frozen=True)
class OutputSpec:
    name: str
    type: str


@dataclass(frozen=True)
class NodeType:
    """Everything the engine, server and editor know about one kind of node."""

    id: str
    display_name: str
    category: str
    description: str
    version: int
    inputs: tuple[InputSpec, ...]
    outputs: tuple[OutputSpec, ...]
    fn: Callable[..., Any]
    resource: str = "cpu"
    side_effects: bool = False
    nondeterministic: bool = False
    is_output: bool = False
    # fingerprint(**widget_values) -> str: extra cache-key material (a file's hash).
    fingerprint: Callable[..., str] | None = None
    # validate(**widget_values) -> list[str | (input, message)]: checks before running.
    validate: Callable[..., Any] | None = None
    # estimate_bytes(widget_values) -> int: about how many bytes a source node will make
    # (width x height x batch x channels x 4); validation refuses more than the budget.
    estimate_bytes: Callable[..., int] | None = None
    # warm(widget_values) -> None: loads what the node will need (a voice, a model)
    # ahead of a run, in a worker that is waiting anyway; must not change results.
    warm: Callable[..., None] | None = None
    # Reads the run's workflow params (ctx.params), so their values enter its cache key.
    uses_params: bool = False
    # Takes IMAGE inputs as they come, PixelImage (uint8) included; other nodes get
    # every IMAGE as the float tensor the type promises.
    pixel_images: bool = False
    # The elements of a mapped call may be computed side by side, in threads: the
    # function is thread-safe and spends its time outside the GIL (a voice model).
    parallel_items: bool = False
    wants_ctx: bool = False
    pack: str = ""
    input_map: Mapping[str, InputSpec] = field(default_factory=dict, compare=False, repr=False)

    @property
    def source_hash(self) -> str:
        """Hash of the code the node runs: its function and the same-pack helpers,
        classes and constants it reaches (docstrings, comments, formatting aside).
        Computed on first use and cached, so discovering packs stays cheap."""
        return code_hash(self.fn)

    def schema(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "display_name": self.display_name,
            "category": self.category,
            "description": self.description,
            "version": self.version,
            "inputs": [i.schema() for i in self.inputs],
            "outputs": [{"name": o.name, "type": o.type} for o in self.outputs],
            "resource": self.resource,
            "side_effects": self.side_effects,
            "nondeterministic": self.nondeterministic,
            "output_node": self.is_output,
            "pack": self.pack,
        }


class NodeDeclarationError(TypeError):
    """A node's declaration is inconsistent (raised when its module is loaded)."""


def _input_from_parameter(node_id: str, p: inspect.Parameter, hint: Any) -> InputSpec:
    default = MISSING if p.default is inspect.Parameter.empty else p.default
    optional = False
    origin = typing.get_origin(hint)
    # `X | None` / Optional[X] means an optional input.
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            hint = args[0]
            optional = True
    if default is None:
        optional = True
    meta: tuple[Any, ...] = getattr(hint, "__metadata__", ())
    base = typing.get_args(hint)[0] if meta else hint
    widget: Widget | None = None
    type_name: str | None = None
    for m in meta:
        if isinstance(m, Widget):
            widget = m
        elif isinstance(m, SocketType):
            type_name = m.name
        elif isinstance(m, str):
            type_name = m
    if widget is None and type_name is None and base in _DEFAULT_WIDGETS:
        widget = _DEFAULT_WIDGETS[base]
    if widget is not None:
        type_name = type_name or widget.socket_type
    if type_name is None:
        raise NodeDeclarationError(
            f"node {node_id}: input {p.name!r} needs a type annotation such as Image, "
            f"socket('NAME'), int or Annotated[int, Int(...)], got {hint!r}"
        )
    if not is_known_type(type_name):
        raise NodeDeclarationError(
            f"node {node_id}: input {p.name!r} has unknown type {type_name!r}"
        )
    if widget is not None and default is not MISSING and default is not None:
        problem = (
            widget.check(default)
            if widget.kind != "COMBO" or not callable(widget.options)
            else None
        )
        if problem:
            raise NodeDeclarationError(f"node {node_id}: default of {p.name!r}: {problem}")
    return InputSpec(p.name, type_name, widget, default, optional)


def node(
    id: str,
    *,
    category: str,
    outputs: Mapping[str, str | SocketType] | None = None,
    display_name: str | None = None,
    version: int = 1,
    resource: str = "cpu",
    side_effects: bool = False,
    nondeterministic: bool = False,
    output: bool = False,
    fingerprint: Callable[..., str] | None = None,
    validate: Callable[..., Any] | None = None,
    uses_params: bool = False,
    estimate_bytes: Callable[..., int] | None = None,
    warm: Callable[..., None] | None = None,
    pixel_images: bool = False,
    parallel_items: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a function as a node type. See the module docstring and docs/nodes.md."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if "." not in id or not all(part.isidentifier() for part in id.split(".")):
            raise NodeDeclarationError(f"node id {id!r} must look like 'pack.Name'")
        if resource not in RESOURCE_CLASSES:
            raise NodeDeclarationError(f"node {id}: resource must be one of {RESOURCE_CLASSES}")
        hints = typing.get_type_hints(fn, include_extras=True)
        sig = inspect.signature(fn)
        inputs: list[InputSpec] = []
        wants_ctx = False
        for p in sig.parameters.values():
            if p.name == "ctx":
                wants_ctx = True
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise NodeDeclarationError(f"node {id}: *args/**kwargs cannot be inputs")
            inputs.append(_input_from_parameter(id, p, hints.get(p.name, p.annotation)))
        outs: list[OutputSpec] = []
        for name, t in (outputs or {}).items():
            tname = _type_name(t)
            if not is_known_type(tname):
                raise NodeDeclarationError(f"node {id}: output {name!r} has unknown type {tname!r}")
            outs.append(OutputSpec(name, tname))
        doc = inspect.getdoc(fn) or ""
        nt = NodeType(
            id=id,
            display_name=display_name or _display_name(id),
            category=category,
            description=doc,
            version=version,
            inputs=tuple(inputs),
            outputs=tuple(outs),
            fn=fn,
            resource=resource,
            side_effects=side_effects,
            nondeterministic=nondeterministic,
            is_output=output or side_effects,
            fingerprint=fingerprint,
            validate=validate,
            estimate_bytes=estimate_bytes,
            warm=warm,
            uses_params=uses_params,
            pixel_images=pixel_images,
            parallel_items=parallel_items,
            wants_ctx=wants_ctx,
            pack=fn.__module__,
            input_map={i.name: i for i in inputs},
        )
        fn.__reelgraph_node__ = nt  # type: ignore[attr-defined]
        # Keep the pack's sources as imported, for the code key computed later.
        snapshot_pack(fn.__module__)
        return fn

    return decorate


def _type_name(t: Any) -> str:
    """An output type given as a SocketType, a name, or an alias such as Image / list_of(Image)."""
    if isinstance(t, SocketType):
        return t.name
    meta = getattr(t, "__metadata__", None)
    if meta and isinstance(meta[0], str):
        return meta[0]
    return str(t)


def _display_name(node_id: str) -> str:
    name = node_id.rsplit(".", 1)[-1]
    out = [name[0]]
    for prev, ch in itertools.pairwise(name):
        if ch.isupper() and prev.islower():
            out.append(" ")
        out.append(ch)
    return "".join(out)


def node_type_of(obj: Any) -> NodeType | None:
    nt = getattr(obj, "__reelgraph_node__", None)
    return nt if isinstance(nt, NodeType) else None


__all__ = [
    "MISSING",
    "Bool",
    "Combo",
    "Float",
    "InputSpec",
    "Int",
    "NodeDeclarationError",
    "NodeType",
    "OutputSpec",
    "Seed",
    "Text",
    "Widget",
    "node",
    "node_type_of",
]
