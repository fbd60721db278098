"""DIR/batch.json and DIR/batch.csv: what each row did, written atomically after every row.

The JSON is the record a re-run resumes from: a row counts as done only while its
files are there with the size and hash written here. The CSV is the same table
for a spreadsheet.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from ..graph import canonical
from ..workflow import atomic_write

MANIFEST_JSON = "batch.json"
MANIFEST_CSV = "batch.csv"
CSV_COLUMNS = (
    "row",
    "line",
    "status",
    "stem",
    "files",
    "error_node",
    "error_input",
    "error_column",
    "error",
    "seconds",
    "executed",
    "cached",
    "node_executions",
    "encoded_frames",
)


def file_hash(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def describe_file(path: Path) -> dict[str, Any]:
    return {"name": path.name, "bytes": path.stat().st_size, "blake2b": file_hash(path)}


def row_fingerprint(workflow: dict[str, Any], params: dict[str, Any]) -> str:
    """Same workflow and same params: the same row (what resume compares)."""
    return hashlib.blake2b(
        canonical(workflow) + b"\0" + canonical(params), digest_size=12
    ).hexdigest()


def intact(out_dir: Path, record: dict[str, Any]) -> bool:
    """The row finished and every file it recorded is there, unchanged."""
    if record.get("status") != "ok" or not record.get("files"):
        return False
    for f in record["files"]:
        p = out_dir / f["name"]
        try:
            if p.stat().st_size != f["bytes"] or file_hash(p) != f["blake2b"]:
                return False
        except OSError:
            return False
    return True


def load_manifest(out_dir: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads((out_dir / MANIFEST_JSON).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("rows"), list) else None


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        err = r.get("error") or {}
        w.writerow(
            [
                r.get("row"),
                r.get("line", ""),
                r.get("status"),
                r.get("stem", ""),
                ";".join(f["name"] for f in r.get("files") or []),
                err.get("node", ""),
                err.get("input", ""),
                err.get("column", ""),
                err.get("message", ""),
                f"{r['seconds']:.3f}" if isinstance(r.get("seconds"), (int, float)) else "",
                r.get("executed", ""),
                r.get("cached", ""),
                r.get("node_executions", ""),
                r.get("encoded_frames", ""),
            ]
        )
    return buf.getvalue()


def write_manifest(out_dir: Path, doc: dict[str, Any]) -> None:
    rows = sorted(doc["rows"], key=lambda r: r["row"])
    doc = {**doc, "rows": rows}
    atomic_write(
        out_dir / MANIFEST_JSON, (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()
    )
    # UTF-8 with a BOM: spreadsheet programs then read accents right.
    atomic_write(out_dir / MANIFEST_CSV, ("\ufeff" + _csv_text(rows)).encode())
