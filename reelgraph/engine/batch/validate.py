"""Check every row against the workflow's params before anything runs.

Two passes, both collecting every problem instead of stopping at the first:
1. the header and the cells: unknown columns, params that need a value and have
   none, cells that are not of the param's type (`coerce_cell`);
2. each row's params planned against the workflow (`check_row_plans` in plan.py),
   which catches widget bounds, combo options and node checks; a problem on a node
   input that a param fills is reported on that param's column.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

from ..workflow import Workflow, is_link
from .rows import Row, Rows


@dataclass
class RowProblem:
    row: int | None  # None: the header / the whole sheet
    column: str | None
    message: str
    line: int | None = None
    node: str | None = None
    input: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}" + (f" (line {self.line})" if self.line else ""))
        elif self.line is not None:
            where.append(f"header (line {self.line})")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        if self.node is not None and self.column is None:
            where.append(f"node {self.node!r}" + (f" input {self.input!r}" if self.input else ""))
        return f"{', '.join(where)}: {self.message}" if where else self.message


def coerce_cell(value: Any, type_name: str) -> Any:
    """A cell (text from CSV; numbers, dates, bools from JSONL/XLSX) as the param's type.
    Raises ValueError saying what was expected."""
    if type_name == "TEXT":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return value if isinstance(value, str) else str(value)
    if type_name == "BOOL":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        low = str(value).strip().lower()
        if low in ("1", "true", "yes", "on", "y"):
            return True
        if low in ("0", "false", "no", "off", "n"):
            return False
        raise ValueError(f"expected true/false (or yes/no, 1/0), got {value!r}")
    if type_name in ("INT", "FLOAT"):
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            number: float = value
        else:
            text = str(value).strip().replace("\u2212", "-")
            try:
                number = int(text) if type_name == "INT" else float(text)
            except ValueError:
                try:
                    number = float(text)
                except ValueError:
                    raise ValueError(f"expected a number, got {value!r}") from None
        if isinstance(number, float) and not math.isfinite(number):
            raise ValueError(f"expected a finite number, got {value!r}")
        if type_name == "INT":
            if isinstance(number, float) and not number.is_integer():
                raise ValueError(f"expected a whole number, got {value!r}")
            return int(number)
        return float(number)
    return value


def _has_value(workflow: Workflow, name: str, p: dict[str, Any]) -> bool:
    if "default" in p:
        return True
    node = workflow.nodes.get(p.get("node", ""), {})
    value = (node.get("inputs") or {}).get(p.get("input", ""))
    return value is not None and not is_link(value)


def check_cells(
    workflow: Workflow,
    rows: Rows,
    *,
    extra_columns: set[str] | frozenset[str] = frozenset(),
    ignore_unknown: bool = False,
) -> tuple[list[RowProblem], dict[int, dict[str, Any]]]:
    """Problems of the header and cells, and each row's params (row number -> params)
    for the rows whose cells are all fine. `extra_columns` are known without being
    params (columns a --name template uses)."""
    params = workflow.params
    problems: list[RowProblem] = []
    unknown = [c for c in rows.columns if c not in params and c not in extra_columns]
    if unknown and not ignore_unknown:
        known = ", ".join(sorted(params)) or "none"
        for c in unknown:
            close = difflib.get_close_matches(c, list(params), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                RowProblem(
                    None,
                    c,
                    f"the workflow has no param {c!r}{hint}; its params: {known}. Rename the "
                    "column, use it in --name, or pass --ignore-unknown-columns",
                    line=rows.header_line,
                )
            )
    required = [n for n, p in params.items() if not _has_value(workflow, n, p)]
    for name in required:
        if name not in rows.columns:
            problems.append(
                RowProblem(
                    None,
                    name,
                    f"column {name!r} is missing: param {name!r} has no default, so every "
                    "row needs a value",
                    line=rows.header_line,
                )
            )
    good: dict[int, dict[str, Any]] = {}
    for row in rows.rows:
        row_ok = True
        values: dict[str, Any] = {}
        for name, p in params.items():
            if name not in row.values:
                if name in required and name in rows.columns:
                    problems.append(
                        RowProblem(
                            row.number,
                            name,
                            "empty, and the param has no default",
                            line=row.line,
                        )
                    )
                    row_ok = False
                continue
            try:
                values[name] = coerce_cell(row.values[name], p.get("type", "TEXT"))
            except ValueError as exc:
                problems.append(RowProblem(row.number, name, str(exc), line=row.line))
                row_ok = False
        if row_ok:
            good[row.number] = values
    return problems, good


def column_of(workflow: Workflow, node: str | None, input_name: str | None) -> str | None:
    """The param (column) that fills this node input, if one does."""
    if node is None or input_name is None:
        return None
    for name, p in workflow.params.items():
        if p.get("node") == node and p.get("input") == input_name:
            return name
    return None


def row_by_number(rows: Rows) -> dict[int, Row]:
    return {r.number: r for r in rows.rows}
