"""Reading and checking rows, naming outputs: no rendering, so these are fast."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from reelgraph.engine.batch import parse_rows, prepare, read_rows
from reelgraph.engine.batch.driver import BatchError
from reelgraph.engine.batch.naming import assign_stems, sanitise
from reelgraph.engine.batch.outputs import final_names
from reelgraph.engine.batch.rows import RowsError
from reelgraph.engine.registry import Registry
from reelgraph.engine.workflow import parse_workflow

from .conftest import small_greetings


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.discover()


def test_csv_quotes_commas_unicode_bom_crlf_and_empty_lines() -> None:
    text = (
        "name,city\r\n"
        '"Grace ""Amazing"" Hopper","New York, NY"\r\n'
        "\r\n"
        "José,São Paulo\r\n"
        ",\r\n"
        '"Line\r\nbreak",東京\r\n'
    )
    rows = parse_rows(b"\xef\xbb\xbf" + text.encode(), "people.csv")
    assert rows.columns == ["name", "city"]  # no BOM glued to the first name
    got = [(r.number, r.line, r.values) for r in rows.rows]
    assert got == [
        (1, 2, {"name": 'Grace "Amazing" Hopper', "city": "New York, NY"}),
        (2, 4, {"name": "José", "city": "São Paulo"}),
        (3, 6, {"name": "Line\nbreak", "city": "東京"}),  # a line break in a cell is "\n"
    ]
    assert not any("\r" in v for r in rows.rows for v in r.values.values())


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_newline_style_reads_the_same(newline: str) -> None:
    data = newline.join(["name,city", "Ada,London", "Alan,Manchester", ""]).encode()
    rows = parse_rows(data, "x.csv")
    assert [r.values for r in rows.rows] == [
        {"name": "Ada", "city": "London"},
        {"name": "Alan", "city": "Manchester"},
    ]


def test_tsv_and_jsonl() -> None:
    tsv = parse_rows(b"name\tcity\nAda\tLondon, UK\n", "x.tsv")
    assert tsv.rows[0].values == {"name": "Ada", "city": "London, UK"}
    jsonl = parse_rows(
        b'{"name": "Ada", "width": 160}\n\n{"name": "Alan", "fps": 2.5}\n', "x.jsonl"
    )
    assert jsonl.columns == ["name", "width", "fps"]
    assert [(r.number, r.line) for r in jsonl.rows] == [(1, 1), (2, 3)]
    assert jsonl.rows[0].values["width"] == 160


def test_xlsx_with_merged_and_blank_cells_floats_and_dates(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["name", "city", "width", "when"])
    ws.append(["Ada", "London", 160.0, dt.datetime(2026, 12, 1)])
    ws.append([None, None, None, None])  # a blank row in the middle
    ws.append(["Alan", None, 320.0, dt.date(2026, 1, 2)])
    ws.append(["Grace", None, 3.5, None])
    ws.merge_cells("B4:B5")  # "Manchester" merged down over Alan and Grace
    ws["B4"] = "Manchester"
    path = tmp_path / "people.xlsx"
    book.save(path)
    rows = read_rows(path)
    assert rows.columns == ["name", "city", "width", "when"]
    assert [(r.number, r.line) for r in rows.rows] == [(1, 2), (2, 4), (3, 5)]
    assert rows.rows[0].values == {
        "name": "Ada",
        "city": "London",
        "width": 160,
        "when": "2026-12-01",
    }
    assert rows.rows[1].values["city"] == "Manchester"
    assert rows.rows[2].values["city"] == "Manchester"
    assert rows.rows[2].values["width"] == 3.5


def test_every_problem_is_reported_with_row_and_column(tmp_path: Path, registry: Registry) -> None:
    wf = parse_workflow(small_greetings(), "greetings.json")
    data = (
        b"name,city,width,background,nmae\n"
        b"Ada,London,160,gradient,x\n"  # fine (but for the unknown column)
        b"Alan,Leeds,wide,solid,x\n"  # not a number
        b"Grace,Arlington,-4,gradient,x\n"  # below the widget minimum
        b"Edsger,Nuenen,160,plaid,x\n"  # not a combo option
    )
    rows = parse_rows(data, "people.csv")
    with_unknown = prepare(wf, rows, tmp_path / "out", registry)
    header = [p for p in with_unknown.problems if p.row is None]
    assert [(p.column, p.line) for p in header] == [("nmae", 1)]
    assert "did you mean 'name'" in header[0].message
    assert not with_unknown.valid_rows  # an unknown column stops every row

    plan = prepare(wf, rows, tmp_path / "out", registry, ignore_unknown_columns=True)
    found = {(p.row, p.column) for p in plan.problems}
    assert found == {(2, "width"), (3, "width"), (4, "background")}
    by_row = {p.row: p for p in plan.problems}
    assert "number" in by_row[2].message
    assert "minimum" in by_row[3].message
    assert "plaid" in by_row[4].message and by_row[4].line == 5
    assert [e.number for e in plan.valid_rows] == [1]
    assert plan.entries[4].error["column"] == "background"


def test_a_broken_name_template_or_workflow_stops_before_any_row(
    tmp_path: Path, registry: Registry
) -> None:
    wf = parse_workflow(small_greetings(), "greetings.json")
    rows = parse_rows(b"name\nAda\n", "x.csv")
    with pytest.raises(BatchError, match=r"\{town\}"):
        prepare(wf, rows, tmp_path, registry, name_template="{name}-{town}")
    doc = small_greetings()
    doc["nodes"]["card"]["type"] = "slides.NoSuchNode"
    with pytest.raises(BatchError, match="NoSuchNode"):
        prepare(parse_workflow(doc), rows, tmp_path, registry)


def test_stems_are_safe_unique_and_never_take_a_strangers_file() -> None:
    assert sanitise('  Grace / "Amazing" Hopper: NY?  ') == "Grace-Amazing-Hopper-NY"
    assert sanitise("../../etc/passwd") == "etc-passwd"
    assert sanitise("CON") == "_CON"
    assert sanitise("東京 2026") == "東京-2026"
    rows = [(1, {"name": "Ada"}), (2, {"name": "ada"}), (3, {"name": "Ada"}), (4, {"name": "/"})]
    stems = assign_stems(rows, "{name}", taken={"Ada-2"})
    assert stems == {1: "Ada", 2: "ada-3", 3: "Ada-4", 4: "row-004"}
    assert assign_stems([(7, {"name": "Ada"})], "{row:03}-{name}") == {7: "007-Ada"}


def test_fixed_file_names_of_a_workflow_take_the_row_stem() -> None:
    assert final_names("007-Ada", ["explainer.mp4", "explainer.srt"]) == {
        "explainer.mp4": "007-Ada.mp4",
        "explainer.srt": "007-Ada.srt",
    }
    two = final_names("007-Ada", ["video.mp4", "poster.png", "thumb.png"])
    assert two["video.mp4"] == "007-Ada.mp4"
    assert sorted([two["poster.png"], two["thumb.png"]]) == [
        "007-Ada-poster.png",
        "007-Ada-thumb.png",
    ]


def test_dry_run_validates_and_writes_nothing(tmp_path: Path, registry: Registry) -> None:
    from reelgraph.engine.batch.cli import add_command  # noqa: F401 - the registered command
    from reelgraph.engine.cli import main

    wf = tmp_path / "wf.json"
    wf.write_text(json.dumps(small_greetings()))
    rows = tmp_path / "rows.csv"
    rows.write_text("name,width\nAda,160\nAlan,99999\n")
    out = tmp_path / "out"
    code = main(["batch", str(wf), str(rows), "--out", str(out), "--dry-run", "--json", "-q"])
    assert code == 1
    assert not out.exists()


def test_semicolon_csv_from_a_european_excel_reads_as_cells() -> None:
    rows = parse_rows(b'name;city;note\r\nAda;London;"a; b, c"\r\n', "people.csv")
    assert rows.columns == ["name", "city", "note"]
    assert rows.rows[0].values == {"name": "Ada", "city": "London", "note": "a; b, c"}


def test_a_latin1_file_is_refused_with_its_line() -> None:
    with pytest.raises(RowsError, match=r"not UTF-8 text at line 2, byte 4 .*0xe9.*CSV UTF-8"):
        parse_rows(b"name,city\nJos\xe9,M\xfcnchen\n", "people.csv")
