"""Real batches of the greetings example at 160x90, 2 fps: shared scenes, a bad row,
outputs that reproduce their row, resume after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reelgraph.engine.batch.manifest import intact
from reelgraph.engine.batch.resolve import resolve_workflow
from reelgraph.engine.cache import Cache, MemoryCache
from reelgraph.engine.cli import main
from reelgraph.engine.scheduler import Engine

from .conftest import frame_hashes, manifest, write_csv


def test_rows_share_unchanged_scenes_a_bad_row_is_reported_and_outputs_reproduce(
    tmp_path: Path, greetings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = write_csv(
        tmp_path / "people.csv",
        [
            {"name": "Ada", "city": "London", "width": ""},
            {"name": "Alan", "city": "Leeds", "width": ""},
            {"name": "Grace", "city": "Arlington", "width": "-4"},
        ],
    )
    out = tmp_path / "out"
    cache = tmp_path / "cache"
    code = main(
        [
            "batch",
            str(greetings),
            str(rows),
            "--out",
            str(out),
            "--cache-dir",
            str(cache),
            "--json",
            "-q",
        ]
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 1  # one row invalid, the others finished
    assert summary["status"] == "some_failed"
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert names == [
        "001-Ada.mp4",
        "001-Ada.srt",
        "002-Alan.mp4",
        "002-Alan.srt",
        "batch.csv",
        "batch.json",
    ]
    assert (
        "Alan" in (out / "002-Alan.srt").read_text()
        and "Leeds" not in (out / "001-Ada.srt").read_text()
    )

    doc = manifest(out)
    r1, r2, r3 = doc["rows"]
    assert (r1["status"], r2["status"], r3["status"]) == ("ok", "ok", "invalid")
    assert r3["error"]["column"] == "width" and "minimum" in r3["error"]["message"]
    assert r3["line"] == 4
    csv_row3 = (out / "batch.csv").read_text(encoding="utf-8-sig").splitlines()[3]
    assert csv_row3.startswith("3,4,invalid,") and ",width," in csv_row3
    assert all(intact(out, r) for r in (r1, r2))

    # Row 1 ran cold. Row 2 differs in scene 1 only: every per-scene node ran for that
    # scene alone, the other two scenes came from row 1.
    wf = resolve_workflow(str(greetings))
    with Engine(cache=Cache(MemoryCache())) as probe:
        plan = probe.plan(wf, params={"name": "Alan", "city": "Leeds"})
    mapped = sum(1 for pn in plan.nodes.values() if pn.mapped)
    assert mapped >= 4
    assert r1["node_executions"] == r1["node_executions_naive"]
    assert r2["node_executions_naive"] == r1["node_executions_naive"]
    assert r2["node_executions_naive"] - r2["node_executions"] == 2 * mapped
    # ...and the encoder re-used the segments of the unchanged scenes (closed-GOP
    # segments cached by content key): row 2 encoded only part of its frames.
    assert r1["encoded_frames"] == r1["frames"] > 0
    assert 0 < r2["encoded_frames"] < r2["frames"]
    totals = summary["totals"]
    assert totals["node_executions_saved"] == 2 * mapped
    assert (
        totals["encoded_frames"] > 0 and totals["encoded_frames_naive"] >= totals["encoded_frames"]
    )

    # The MP4 carries the workflow and every param of its row, including name and city,
    # which no node input takes (text.Template reads them): re-running it gives row 2.
    again = resolve_workflow(str(out / "002-Alan.mp4"))
    assert again.params["name"]["default"] == "Alan" and again.params["city"]["default"] == "Leeds"
    with Engine(cache=Cache(MemoryCache()), out_dir=tmp_path / "again") as engine:
        result = engine.run(again)
    assert result.ok, result.failed
    rerun = Path(result.outputs["encode"]["path"])
    assert frame_hashes(rerun) == frame_hashes(out / "002-Alan.mp4")
    assert frame_hashes(rerun) != frame_hashes(out / "001-Ada.mp4")


def _batch_command(greetings: Path, rows: Path, out: Path, cache: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "reelgraph.engine.cli",
        "batch",
        str(greetings),
        str(rows),
        "--out",
        str(out),
        "--cache-dir",
        str(cache),
        "--workers",
        "1",
    ]


@pytest.mark.slow
def test_resume_after_kill_9_skips_finished_rows(tmp_path: Path, greetings: Path) -> None:
    rows = write_csv(
        tmp_path / "people.csv",
        [
            {"name": n, "city": c}
            for n, c in [
                ("Ada", "London"),
                ("Alan", "Leeds"),
                ("Grace", "Arlington"),
                ("Edsger", "Nuenen"),
            ]
        ],
    )
    out, cache = tmp_path / "out", tmp_path / "cache"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    log_path = tmp_path / "first.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            _batch_command(greetings, rows, out, cache), stdout=log, stderr=log, env=env
        )
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                doc = manifest(out)
            except (OSError, ValueError):
                continue
            if sum(r["status"] == "ok" for r in doc["rows"]) >= 1:
                break
            assert proc.poll() is None, (tmp_path / "first.log").read_text()
        else:
            pytest.fail("no row finished in time")
        time.sleep(0.5)  # into the next row
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    doc = manifest(out)  # still a whole, readable manifest
    done = {r["row"] for r in doc["rows"] if r["status"] == "ok"}
    assert done and len(done) < 4
    recorded = {f["name"] for r in doc["rows"] for f in r["files"]}
    visible = {p.name for p in out.iterdir() if not p.name.startswith(".")} - {
        "batch.csv",
        "batch.json",
    }
    # every file in DIR is a row's the manifest names (a row killed while its files
    # were being renamed into DIR is "publishing": the next run redoes it), whole
    assert visible <= recorded
    assert {f["name"] for r in doc["rows"] if r["row"] in done for f in r["files"]} <= visible
    assert all(intact(out, r) for r in doc["rows"] if r["row"] in done)
    finished = {f["name"] for r in doc["rows"] if r["row"] in done for f in r["files"]}
    before = {name: (out / name).stat().st_mtime_ns for name in finished}

    second = subprocess.run(
        _batch_command(greetings, rows, out, cache), capture_output=True, env=env, timeout=300
    )
    assert second.returncode == 0, second.stderr.decode()
    doc = manifest(out)
    assert [r["status"] for r in doc["rows"]] == ["ok"] * 4
    assert {r["row"] for r in doc["rows"] if r.get("resumed")} == done
    assert all((out / name).stat().st_mtime_ns == t for name, t in before.items())
    assert all(intact(out, r) for r in doc["rows"])
    assert not (out / ".staging").exists()

    # A finished row whose file was damaged is rendered again.
    victim = out / doc["rows"][0]["files"][0]["name"]
    victim.write_bytes(victim.read_bytes()[:-100])
    third = subprocess.run(
        _batch_command(greetings, rows, out, cache), capture_output=True, env=env, timeout=300
    )
    assert third.returncode == 0, third.stderr.decode()
    doc = manifest(out)
    assert not doc["rows"][0].get("resumed") and all(r.get("resumed") for r in doc["rows"][1:])
    assert intact(out, doc["rows"][0])


def test_a_row_killed_while_publishing_is_redone_under_its_own_name(
    tmp_path: Path, greetings: Path
) -> None:
    """Killed between the renames into DIR and the manifest's next save, a row is
    "publishing" with its names recorded: the next run redoes it and replaces its
    files, instead of taking them for someone else's and choosing a new name."""
    rows = write_csv(
        tmp_path / "rows.csv",
        [{"name": "Ada", "city": "London"}, {"name": "Alan", "city": "Leeds"}],
    )
    out, cache = tmp_path / "out", tmp_path / "cache"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    first = subprocess.run(
        _batch_command(greetings, rows, out, cache), capture_output=True, env=env, timeout=300
    )
    assert first.returncode == 0, first.stderr.decode()
    doc = manifest(out)
    row = doc["rows"][1]
    names = sorted(f["name"] for f in row["files"])
    row["status"], row["files"] = "publishing", [{"name": n} for n in names]
    (out / "batch.json").write_text(json.dumps(doc))
    second = subprocess.run(
        _batch_command(greetings, rows, out, cache), capture_output=True, env=env, timeout=300
    )
    assert second.returncode == 0, second.stderr.decode()
    doc = manifest(out)
    assert [r["status"] for r in doc["rows"]] == ["ok", "ok"]
    assert doc["rows"][0].get("resumed") and not doc["rows"][1].get("resumed")
    assert sorted(f["name"] for f in doc["rows"][1]["files"]) == names
    assert all(intact(out, r) for r in doc["rows"])
    visible = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert visible == {
        "batch.csv",
        "batch.json",
        *(f["name"] for r in doc["rows"] for f in r["files"]),
    }


def test_rows_side_by_side_do_the_shared_work_once(tmp_path: Path, greetings: Path) -> None:
    """Two rows at a time, the second starting while the first (the pilot) encodes:
    every row executes and encodes exactly what it does one row at a time."""
    people = [("Ada", "London"), ("Alan", "Leeds"), ("Grace", "Arlington"), ("Ken", "Murray Hill")]
    rows = write_csv(tmp_path / "people.csv", [{"name": n, "city": c} for n, c in people])
    counts = {}
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}"
        code = main(
            ["batch", str(greetings), str(rows), "--out", str(out), "--cache-dir",
             str(tmp_path / f"cache{workers}"), "--workers", workers, "-q"]
        )  # fmt: skip
        assert code == 0
        counts[workers] = [
            (r["row"], r["node_executions"], r["encoded_frames"], r["frames"])
            for r in manifest(out)["rows"]
        ]
    assert counts["2"] == counts["1"]
    first, *others = counts["1"]
    assert all(0 < encoded < frames for _, _, encoded, frames in others)
    assert all(n < first[1] for _, n, _, _ in others)
