"""Two batches of the same rows, in two processes, give the same frames: what resume,
`reelgraph run row.mp4` and Ray-against-local rest on. On an AVX-512 CPU x264's
AVX-512 code broke this (8-19 of each video's 29 frames differed, every try) until
x264 was kept to AVX2 (encoder.x264_cpu_limit)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import frame_hashes, write_csv

pytestmark = pytest.mark.slow


def test_two_batches_of_the_same_rows_give_the_same_frames(tmp_path: Path, greetings: Path) -> None:
    people = [("Ada", "Oslo"), ("Alan", "Leeds"), ("Grace", "Paris"), ("Ken", "Rome")]
    rows = write_csv(tmp_path / "rows.csv", [{"name": n, "city": c} for n, c in people])
    for run in ("a", "b"):
        subprocess.run(
            [sys.executable, "-m", "reelgraph.engine.cli", "batch", str(greetings), str(rows),
             "--out", str(tmp_path / run), "--cache-dir", str(tmp_path / f"cache-{run}"),
             "--workers", "2", "-q", "--json"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    videos = sorted(p.name for p in (tmp_path / "a").glob("*.mp4"))
    assert len(videos) == len(people)
    for name in videos:
        assert frame_hashes(tmp_path / "a" / name) == frame_hashes(tmp_path / "b" / name), name
