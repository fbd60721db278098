"""Output stems from a `--name` template: safe on every filesystem, unique, never clobbering.

`{column}` takes a cell of the row, `{row}` the row number (`{row:03}` pads it);
`{{` and `}}` are literal braces. The default is the row number plus the first
column ("007-Ada"). Stems keep letters of any script, digits, `-`, `_` and `.`;
anything else becomes `-`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

_FIELD = re.compile(r"\{\{|\}\}|\{([^{}:]+)(?::([^{}]*))?\}")
_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {
    f"{p}{i}" for p in ("com", "lpt") for i in range(10)
}
MAX_STEM = 80


class NameTemplateError(ValueError):
    pass


def template_fields(template: str) -> list[str]:
    return [m.group(1).strip() for m in _FIELD.finditer(template) if m.group(1)]


def check_template(template: str, columns: Iterable[str]) -> None:
    known = set(columns) | {"row"}
    missing = [f for f in template_fields(template) if f not in known]
    if missing:
        raise NameTemplateError(
            f"--name {template!r} uses {', '.join('{' + m + '}' for m in missing)}, which "
            f"{'is not a column' if len(missing) == 1 else 'are not columns'} "
            f"(columns: {', '.join(sorted(set(columns))) or 'none'}, and {{row}})"
        )


def render(template: str, number: int, values: dict[str, Any]) -> str:
    def fill(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)[0]
        name, spec = m.group(1).strip(), m.group(2) or ""
        value: Any = number if name == "row" else values.get(name, "")
        try:
            return format(value, spec)
        except (ValueError, TypeError):
            return str(value)

    return _FIELD.sub(fill, template)


def sanitise(text: str) -> str:
    """A file-name stem from any text: NFC, unsafe characters to '-', no leading dots."""
    s = unicodedata.normalize("NFC", text).strip()
    s = _UNSAFE.sub("-", s)
    s = re.sub(r"-{2,}", "-", s).strip("-._ ")
    if len(s) > MAX_STEM:
        s = s[:MAX_STEM].rstrip("-._ ")
    if s.lower().split(".")[0] in _WINDOWS_RESERVED:
        s = f"_{s}"
    return s


def default_template(columns: list[str]) -> str:
    return "{row:03}-{" + columns[0] + "}" if columns else "{row:03}"


def assign_stems(
    rows: list[tuple[int, dict[str, Any]]],
    template: str,
    *,
    taken: Iterable[str] = (),
    fixed: dict[int, str] | None = None,
) -> dict[int, str]:
    """Row number -> stem. `fixed` keeps stems an earlier run of this batch gave (resume);
    `taken` are stems in use by files that are not this batch's (never overwritten).
    Clashes are compared without case (macOS and Windows folders ignore it)."""
    fixed = fixed or {}
    used = {s.lower() for s in taken} | {s.lower() for s in fixed.values()}
    out: dict[int, str] = {}
    for number, values in rows:
        if number in fixed:
            out[number] = fixed[number]
            continue
        base = sanitise(render(template, number, values)) or f"row-{number:03}"
        stem, n = base, 2
        while stem.lower() in used:
            stem, n = f"{base}-{n}", n + 1
        used.add(stem.lower())
        out[number] = stem
    return out
