"""`reelgraph batch --executor ray` with no Ray running: the batch starts a local Ray
in the background, the driver runs the first row itself meanwhile, the rest run as
Ray tasks, and the Ray it started is stopped at the end."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reelgraph.engine.cli import main

from .conftest import frame_hashes, write_csv

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow


def test_the_driver_runs_rows_while_its_local_ray_starts(
    tmp_path: Path, greetings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not ray.is_initialized(), "another test left Ray running"
    people = [
        {"name": n, "city": c} for n, c in [("Ada", "Oslo"), ("Alan", "Leeds"), ("Grace", "Paris")]
    ]
    rows = write_csv(tmp_path / "rows.csv", people)
    common = ["batch", str(greetings), str(rows), "--json", "-q"]
    assert (
        main([*common, "--out", str(tmp_path / "local"), "--cache-dir", str(tmp_path / "c1")]) == 0
    )
    capsys.readouterr()
    rc = main(
        [*common, "--out", str(tmp_path / "ray"), "--cache-dir", str(tmp_path / "c2"),
         "--executor", "ray", "--workers", "2"]
    )  # fmt: skip
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == 0, summary
    records = {r["row"]: r for r in summary["rows"]}
    here = f"{os.uname().nodename}:{os.getpid()}"
    assert records[1]["worker"] == here  # the pilot row ran while Ray started
    assert any(r["worker"] != here for r in records.values())  # the rest on Ray workers
    for r in records.values():
        name = f"{r['stem']}.mp4"
        assert frame_hashes(tmp_path / "ray" / name) == frame_hashes(tmp_path / "local" / name)
    assert not ray.is_initialized()  # the Ray the batch started is stopped
