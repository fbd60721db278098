"""DIR/batch.json and DIR/batch.csv as a batch saves them, many times over."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from reelgraph.engine.batch.manifest import ManifestWriter, load_manifest


def _record(row: int, status: str = "ok", seconds: float = 1.5) -> dict:
    return {
        "row": row,
        "line": row + 1,
        "stem": f'{row:03}-Zoë, "the" name',
        "status": status,
        "params": {"name": "Zoë", "city": "Zürich"},
        "files": [{"name": f"{row:03}-Zoe.mp4", "bytes": 10, "blake2b": "ab"}],
        "error": {"message": "a, b\nc", "node": "speak"} if status == "failed" else None,
        "seconds": seconds,
    }


def _csv_rows(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((out / "batch.csv").read_text("utf-8-sig"))))


def test_every_save_holds_the_records_as_they_are_then(tmp_path: Path) -> None:
    """Rows serialised at an earlier save are re-used only while their record is the
    same object: a row whose record was replaced is written anew, in JSON and CSV."""
    writer = ManifestWriter(tmp_path)
    doc = {
        "format": "reelgraph.batch",
        "version": 1,
        "rows": [_record(n, "pending") for n in (3, 1, 2)],
    }
    writer.write(doc)
    assert [r["row"] for r in load_manifest(tmp_path)["rows"]] == [1, 2, 3]
    for step, n in enumerate((2, 3, 1)):
        doc["rows"] = [
            _record(n, "failed" if n == 3 else "ok", seconds=step) if r["row"] == n else r
            for r in doc["rows"]
        ]
        doc["status"] = f"step {step}"
        writer.write(doc)
        back = load_manifest(tmp_path)
        assert back["rows"] == sorted(doc["rows"], key=lambda r: r["row"])
        assert back["status"] == f"step {step}" and back["version"] == 1
        table = _csv_rows(tmp_path)
        assert [r["status"] for r in table] == [r["status"] for r in back["rows"]]
        assert [r["seconds"] for r in table] == [f"{r['seconds']:.3f}" for r in back["rows"]]
    failed = _csv_rows(tmp_path)[2]
    assert failed["error"] == "a, b\nc" and failed["error_node"] == "speak"
    assert failed["stem"] == '003-Zoë, "the" name'


def test_each_row_is_one_line_of_the_json(tmp_path: Path) -> None:
    ManifestWriter(tmp_path).write({"format": "reelgraph.batch", "rows": [_record(1), _record(2)]})
    lines = (tmp_path / "batch.json").read_text("utf-8").splitlines()
    rows = [
        json.loads(line.strip().rstrip(",")) for line in lines if line.lstrip().startswith('{"row"')
    ]
    assert [r["row"] for r in rows] == [1, 2] and "Zürich" in lines[-4]


def test_an_empty_table_and_a_bare_document(tmp_path: Path) -> None:
    ManifestWriter(tmp_path).write({"rows": []})
    assert load_manifest(tmp_path) == {"rows": []}
    assert _csv_rows(tmp_path) == []
