"""Read batch rows from CSV, TSV, JSONL or XLSX into plain dicts of cell values.

Every reader gives the same thing: the column names in order and one `Row` per
non-empty data row, with `number` (1 for the first data row) and `line` (where the
row starts in the file, or its spreadsheet row), so a problem can be pointed at.
Cells keep their native type where the format has one (JSONL numbers, XLSX
numbers and dates); CSV cells are strings. An empty cell is absent from `values`.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class RowsError(ValueError):
    """The rows file cannot be read at all (wrong format, bad encoding, broken JSON line)."""


@dataclass
class Row:
    number: int  # 1-based among data rows
    line: int  # line in the file (CSV/JSONL) or spreadsheet row (XLSX)
    values: dict[str, Any] = field(default_factory=dict)

    def where(self) -> str:
        return f"row {self.number} (line {self.line})"


@dataclass
class Rows:
    columns: list[str]
    rows: list[Row]
    file: str = ""
    header_line: int = 1


def _clean_header(names: list[Any], file: str) -> list[str]:
    out: list[str] = []
    for i, raw in enumerate(names, 1):
        name = "" if raw is None else str(raw).strip()
        if not name:
            out.append("")
            continue
        if name in out:
            raise RowsError(f"{file}: column {name!r} appears twice in the header (column {i})")
        out.append(name)
    return out


def _decode(data: bytes, file: str) -> str:
    # utf-8-sig drops a BOM when there is one and reads plain UTF-8 as well.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        head = data[: exc.start]
        line = head.count(b"\n") + 1
        column = len(head) - (head.rfind(b"\n") + 1) + 1  # in bytes: the text is unreadable
        raise RowsError(
            f"{file}: not UTF-8 text at line {line}, byte {column} of the line (byte "
            f"{exc.start} of the file, 0x{data[exc.start]:02x}); save the sheet as "
            "'CSV UTF-8' (Excel: File > Save As > CSV UTF-8)"
        ) from None


# Excel in most of Europe writes ";" between cells (the comma is its decimal mark).
DELIMITERS = (",", "\t", ";")


def _guess_delimiter(text: str) -> str:
    """The delimiter the header line uses most, outside quotes; a comma on a tie."""
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    unquoted = "".join(part for i, part in enumerate(first.split('"')) if i % 2 == 0)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first on ties
    return best if counts[best] else ","


def read_delimited(data: bytes, file: str, delimiter: str | None = None) -> Rows:
    text = _decode(data, file)
    if delimiter is None:
        delimiter = _guess_delimiter(text)
    # newline="" semantics: the csv module itself handles \n, \r\n and \r between
    # records; a line break inside a quoted cell it keeps as written, so cells are
    # normalised to "\n" (as XLSX cells are) and no "\r" leaks into a title.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[Row] = []
    header_line = 1
    consumed = 0
    for record in reader:
        start, consumed = consumed + 1, reader.line_num
        if not any(cell.strip() for cell in record):
            continue  # an empty line, or one of only delimiters
        if header is None:
            header, header_line = _clean_header(record, file), start
            continue
        values: dict[str, Any] = {}
        for i, cell in enumerate(record):
            name = header[i] if i < len(header) else ""
            if not name:
                if cell.strip():
                    raise RowsError(
                        f"{file}: line {start} has a value in column {i + 1}, which has no name "
                        "in the header"
                    )
                continue
            if cell != "":
                values[name] = _one_newline(cell)
        rows.append(Row(len(rows) + 1, start, values))
    if header is None:
        raise RowsError(f"{file}: no header line (the first line names the columns)")
    return Rows([h for h in header if h], rows, file, header_line)


def _one_newline(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def read_jsonl(data: bytes, file: str) -> Rows:
    text = _decode(data, file)
    columns: list[str] = []
    rows: list[Row] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RowsError(f"{file}: line {n} is not valid JSON: {exc.msg}") from None
        if not isinstance(obj, dict):
            raise RowsError(f"{file}: line {n} must be a JSON object of column -> value")
        values = {}
        for k, v in obj.items():
            key = str(k).strip()
            if key not in columns:
                columns.append(key)
            if v is not None and v != "":
                values[key] = v
        rows.append(Row(len(rows) + 1, n, values))
    return Rows(columns, rows, file, 1)


def _xlsx_cell(value: Any) -> Any:
    # A whole number typed into a sheet often comes back as 3.0; dates as datetimes.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, _dt.datetime):
        return value.date().isoformat() if value.time() == _dt.time(0) else value.isoformat()
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, str):
        return _one_newline(value)
    return value


def read_xlsx(data: bytes, file: str, sheet: str | None = None) -> Rows:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - a core dependency
        raise RowsError("reading .xlsx needs openpyxl: pip install openpyxl") from None
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=False, data_only=True)
    except Exception as exc:
        raise RowsError(f"{file}: not a readable .xlsx workbook ({exc})") from None
    try:
        ws = book[sheet] if sheet else book.worksheets[0]
    except KeyError:
        raise RowsError(f"{file}: no sheet named {sheet!r} (sheets: {book.sheetnames})") from None
    # A merged range keeps its value in its top-left cell only; give it to every cell so
    # a value merged down several rows applies to each of them.
    merged: dict[tuple[int, int], Any] = {}
    for rng in ws.merged_cells.ranges:
        top = ws.cell(rng.min_row, rng.min_col).value
        for r in range(rng.min_row, rng.max_row + 1):
            for c in range(rng.min_col, rng.max_col + 1):
                merged[(r, c)] = top
    header: list[str] | None = None
    header_line = 1
    rows: list[Row] = []
    for r_idx, record in enumerate(ws.iter_rows(values_only=True), 1):
        cells = [merged.get((r_idx, c), v) for c, v in enumerate(record, 1)]
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in cells):
            continue
        if header is None:
            header, header_line = _clean_header(cells, file), r_idx
            continue
        values = {}
        for i, v in enumerate(cells):
            name = header[i] if i < len(header) else ""
            if not name or v is None or (isinstance(v, str) and not v.strip()):
                continue
            values[name] = _xlsx_cell(v)
        rows.append(Row(len(rows) + 1, r_idx, values))
    if header is None:
        raise RowsError(f"{file}: the sheet is empty (the first row names the columns)")
    return Rows([h for h in header if h], rows, file, header_line)


def parse_rows(data: bytes, file: str, kind: str | None = None) -> Rows:
    """`kind`: csv, tsv, jsonl or xlsx; by default from the file name, then the content."""
    suffix = (kind or Path(file).suffix.lstrip(".")).lower()
    if suffix in ("xlsx", "xlsm") or data[:4] == b"PK\x03\x04":
        return read_xlsx(data, file)
    if suffix in ("jsonl", "ndjson") or (suffix == "json" and data.lstrip()[:1] == b"{"):
        return read_jsonl(data, file)
    if suffix == "tsv":
        return read_delimited(data, file, "\t")
    # .csv too: a "CSV" from a European Excel is ";"-delimited; the header tells
    return read_delimited(data, file)


def read_rows(path: str | Path) -> Rows:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise RowsError(f"{p}: cannot read: {exc.strerror or exc}") from None
    return parse_rows(data, str(p))


def rows_from_dicts(items: list[dict[str, Any]], file: str = "<rows>") -> Rows:
    """Rows given as JSON objects (the server's POST body)."""
    data = "\n".join(json.dumps(i, ensure_ascii=False) for i in items).encode()
    return read_jsonl(data, file)
