"""Rows as Ray tasks on a real local Ray (2 CPUs): the same frames as the local
executor, and a worker killed mid-batch loses no row."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reelgraph.engine.batch import prepare, read_rows, run_batch
from reelgraph.engine.batch.manifest import intact
from reelgraph.engine.batch.resolve import resolve_workflow
from reelgraph.engine.executors import make_executor
from reelgraph.engine.registry import Registry

from .conftest import frame_hashes, write_csv

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    # address="local": a Ray of this test's own, never one that runs on the machine
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _batch(
    greetings: Path, rows: Path, out: Path, cache: Path, executor_name: str, **kw: object
) -> dict[int, dict]:
    wf = resolve_workflow(str(greetings))
    plan = prepare(wf, read_rows(rows), out, Registry.discover())
    with make_executor(executor_name, workers=2, cache_dir=str(cache)) as ex:
        summary = run_batch(plan, ex, cache_dir=str(cache), **kw)
    assert summary.exit_code == 0, summary.rows
    return {r["row"]: r for r in summary.rows}


def _row_workers() -> list[int]:
    import psutil

    pids = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(p.info.get("cmdline") or [])
        if "ray::_run_row" in cmd:
            pids.append(p.info["pid"])
    return pids


def test_ray_rows_give_the_local_frames_and_a_killed_worker_loses_no_row(
    local_ray: None, tmp_path: Path, greetings: Path
) -> None:
    people = [
        {"name": n, "city": c}
        for n, c in [("Ada", "London"), ("Alan", "Leeds"), ("Grace", "Paris")]
    ]
    rows = write_csv(tmp_path / "rows.csv", people)
    local_rows = write_csv(tmp_path / "local.csv", people[:2])
    local = _batch(greetings, local_rows, tmp_path / "local", tmp_path / "cache-local", "local")
    killed: list[int] = []
    stop = threading.Event()

    def killer() -> None:
        while not stop.is_set() and not killed:
            pids = _row_workers()
            if pids:
                time.sleep(1.0)  # let it get into the row
                try:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])
                except ProcessLookupError:
                    continue
            time.sleep(0.05)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    try:
        out = tmp_path / "out"
        records = _batch(greetings, rows, out, tmp_path / "cache", "ray")
    finally:
        stop.set()
        t.join(5)
    assert killed, "no Ray worker was seen running a row"
    assert [records[n]["status"] for n in (1, 2, 3)] == ["ok"] * 3
    assert all(intact(out, r) for r in records.values())
    assert sorted(p.name for p in out.glob("*.mp4")) == [
        "001-Ada.mp4",
        "002-Alan.mp4",
        "003-Grace.mp4",
    ]
    for n in (1, 2):
        assert records[n]["worker"].split(":")[1] != str(os.getpid())  # ran in a Ray worker
        name = f"{local[n]['stem']}.mp4"
        assert frame_hashes(out / name) == frame_hashes(tmp_path / "local" / name)
    # later rows found the first row's scenes in the shared disk cache
    assert records[3]["node_executions"] < records[3]["node_executions_naive"]


def test_one_video_encoded_in_segments_across_ray_workers(
    local_ray: None, tmp_path: Path, greetings: Path
) -> None:
    """The encoder's segments of one video rendered by Ray tasks and joined: the same
    frames as encoding it here."""
    from reelgraph.engine.cache import Cache, MemoryCache
    from reelgraph.engine.executors.ray_executor import RaySegmentRunner
    from reelgraph.engine.media.encoder import encode_video, plan_segments
    from reelgraph.engine.scheduler import Engine

    wf = resolve_workflow(str(greetings))
    with Engine(cache=Cache(MemoryCache()), out_dir=tmp_path / "o") as engine:
        result = engine.run(wf, targets=["fade"], params={"name": "Ada", "city": "Oslo"})
    assert result.ok, result.failed
    video = result.outputs["fade"]["video"]
    assert len(plan_segments(video)) >= 3  # one per scene at least
    here = encode_video(video, tmp_path / "here.mp4")
    spread = encode_video(video, tmp_path / "ray.mp4", run_segments=RaySegmentRunner())
    assert spread.encoded_frames == here.encoded_frames == video.frame_count
    assert frame_hashes(tmp_path / "ray.mp4") == frame_hashes(tmp_path / "here.mp4")


def _kill_first(title: str, killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the first Ray worker seen running `title` (its process title)."""
    import psutil

    while not stop.is_set() and not killed:
        for p in psutil.process_iter(["pid", "cmdline"]):
            if title in " ".join(p.info.get("cmdline") or []):
                try:
                    os.kill(p.info["pid"], signal.SIGKILL)
                    killed.append(p.info["pid"])
                except ProcessLookupError:
                    continue
                break
        time.sleep(0.02)


def test_run_with_the_ray_executor_spreads_one_video_over_workers(
    local_ray: None, tmp_path: Path, greetings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`reelgraph run WORKFLOW --executor ray`: every segment of the encode is rendered by
    a Ray task, the driver joins them into --out, and the frames equal a local run's.
    A segment whose worker is killed runs again, and Ray's line about the retry does
    not land in the --json output."""
    import json

    from reelgraph.engine.cli import main

    common = ["run", str(greetings), "--set", "name=Ada", "--set", "city=Oslo", "--json", "-q"]
    assert (
        main([*common, "--out", str(tmp_path / "here"), "--cache-dir", str(tmp_path / "c1")]) == 0
    )
    capsys.readouterr()
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(
        target=_kill_first, args=("ray::_encode_segment", killed, stop), daemon=True
    )
    killer.start()
    try:
        rc = main(
            [*common, "--out", str(tmp_path / "ray"), "--cache-dir", str(tmp_path / "c2"),
             "--executor", "ray"]
        )  # fmt: skip
    finally:
        stop.set()
        killer.join(5)
    time.sleep(1.0)  # Ray reports a retried task to the driver a moment later
    captured = capsys.readouterr()
    assert killed, "no Ray worker was seen encoding a segment"
    report = json.loads(captured.out)  # stdout is the JSON result and nothing else
    assert rc == 0, report
    assert report["ray"]["workers"] == 2
    assert report["ray"]["segments"] >= 3  # one per scene at least, all on Ray
    [mp4] = [p for p in report["outputs"] if p.endswith(".mp4")]
    assert Path(mp4).parent == tmp_path / "ray"
    assert frame_hashes(Path(mp4)) == frame_hashes(tmp_path / "here" / Path(mp4).name)
    assert ray.is_initialized()  # a Ray the CLI did not start is left running


def test_run_with_the_ray_executor_and_isolate_is_refused(
    tmp_path: Path, greetings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reelgraph.engine.cli import main

    rc = main(["run", str(greetings), "--executor", "ray", "--isolate", "--out", str(tmp_path)])
    assert rc == 2
    assert "--isolate and --executor ray cannot be combined" in capsys.readouterr().err
