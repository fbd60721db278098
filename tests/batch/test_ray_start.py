"""`reelgraph batch --executor ray` with no Ray running: the batch starts a local Ray
in the background, the driver runs the first row itself meanwhile, the rest run as
Ray tasks, and the Ray it started is stopped at the end."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reelgraph.engine.cli import main
from reelgraph.engine.executors.ray_head import own_ray_head

from .conftest import frame_hashes, write_csv

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow


@pytest.fixture
def ray_tmpdir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A Ray temp folder of the test's own (RAY_TMPDIR): the address file `ray start`
    writes there is seen by this test only, not by other Rays on the machine. Short:
    Ray's sockets live under it (a Unix socket path has at most 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="rg-ray-", dir="/tmp"))
    monkeypatch.setenv("RAY_TMPDIR", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _kill_row_worker_once(killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the RowWorker actor's process once, while it runs a row."""
    import psutil

    while not stop.is_set() and not killed:
        for p in psutil.process_iter(["pid", "cmdline"]):
            if "ray::RowWorker.run" in " ".join(p.info.get("cmdline") or []):
                time.sleep(0.5)  # let it get into the row
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.info["pid"], signal.SIGKILL)
                    killed.append(p.info["pid"])
                break
        time.sleep(0.05)


def test_a_ray_the_batch_starts_runs_no_monitors_and_no_api_server(ray_tmpdir: Path) -> None:
    """What `lean_local_ray` leaves out of a local Ray (the autoscaler and log
    monitors, the dashboard's API server), and that tasks and actors still run on it."""
    from ray._private import worker

    from reelgraph.engine.executors.ray_lean import lean_local_ray

    assert not ray.is_initialized(), "another test left Ray running"
    with lean_local_ray() as lean:
        ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        assert lean
        running = set(worker._global_node.all_processes)
        assert {"gcs_server", "raylet"} <= running
        assert not running & {"monitor", "log_monitor", "dashboard"}, running

        @ray.remote
        def double(x: int) -> int:
            return 2 * x

        @ray.remote
        class Counter:
            def __init__(self) -> None:
                self.n = 0

            def add(self, k: int) -> int:
                self.n += k
                return self.n

        assert ray.get(double.remote(21)) == 42
        counter = Counter.remote()
        assert ray.get([counter.add.remote(1), counter.add.remote(2)]) == [1, 3]
    finally:
        ray.shutdown()
    # Ray's own classes are back: a Ray started later without it is a whole one
    from ray._private import node, parameter

    assert node.Node.__name__ == "Node" and parameter.RayParams.__name__ == "RayParams"


def test_the_driver_runs_rows_while_its_local_ray_starts(
    tmp_path: Path,
    greetings: Path,
    capsys: pytest.CaptureFixture[str],
    ray_tmpdir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """...and the rows it sends to its Ray go to one RowWorker actor: killed in the
    middle of a row, Ray starts it again and the row runs again; nothing is lost."""
    assert not ray.is_initialized(), "another test left Ray running"
    # The driver takes the pilot row only: left alone it takes rows as long as it has
    # a free lane, and on 2 cores it can finish 4 short rows before the RowWorker is
    # warm, which would leave nothing on Ray to kill.
    monkeypatch.setenv("REELGRAPH_RAY_DRIVER_ROWS", "1")
    # The address file of a Ray that was killed, not stopped: nothing answers there,
    # so the batch starts a Ray of its own instead of waiting to join it.
    (ray_tmpdir / "ray").mkdir()
    (ray_tmpdir / "ray" / "ray_current_cluster").write_text("127.0.0.1:9\n")
    people = [
        {"name": n, "city": c}
        for n, c in [("Ada", "Oslo"), ("Alan", "Leeds"), ("Grace", "Paris"), ("Ken", "Rome")]
    ]
    rows = write_csv(tmp_path / "rows.csv", people)
    common = ["batch", str(greetings), str(rows), "--json", "-q"]
    assert (
        main([*common, "--out", str(tmp_path / "local"), "--cache-dir", str(tmp_path / "c1")]) == 0
    )
    capsys.readouterr()
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_row_worker_once, args=(killed, stop), daemon=True)
    killer.start()
    said: list[str] = []  # what Ray's token-auth logger lets through

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())

    keep = Keep()
    auth_log = logging.getLogger("ray._private.authentication.authentication_token_setup")
    auth_log.addHandler(keep)
    worker_log = logging.getLogger("ray._private.worker")  # where Ray says it started
    worker_log.addHandler(keep)
    try:
        rc = main(
            [*common, "--out", str(tmp_path / "ray"), "--cache-dir", str(tmp_path / "c2"),
             "--executor", "ray", "--workers", "2"]
        )  # fmt: skip
    finally:
        stop.set()
        killer.join(5)
        auth_log.removeHandler(keep)
        worker_log.removeHandler(keep)
    # a Ray of the batch's own has token auth on; Ray's notice of it is left out, and
    # so is its line that it started one (it broke into the progress, past -q)
    assert not [m for m in said if "Token authentication is enabled" in m], said
    assert not [m for m in said if m.startswith("Started a local Ray instance")], said
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == 0, summary
    assert killed, "the RowWorker was not seen running a row"
    records = {r["row"]: r for r in summary["rows"]}
    assert [r["status"] for r in records.values()] == ["ok"] * 4
    here = f"{os.uname().nodename}:{os.getpid()}"
    assert records[1]["worker"] == here  # the pilot row ran while Ray started
    on_ray = {r["worker"] for r in records.values() if r["worker"] != here}
    # The rest on Ray: a row may have finished in the RowWorker before it was killed,
    # and the ones it had then ran again in the RowWorker Ray started in its place.
    assert {int(w.split(":")[1]) for w in on_ray} - {killed[0]}
    for r in records.values():
        name = f"{r['stem']}.mp4"
        assert frame_hashes(tmp_path / "ray" / name) == frame_hashes(tmp_path / "local" / name)
    assert not ray.is_initialized()  # the Ray the batch started is stopped


def test_a_batch_joins_the_ray_already_running_on_this_machine(
    tmp_path: Path, greetings: Path, capsys: pytest.CaptureFixture[str], ray_tmpdir: Path
) -> None:
    """`ray start --head` once, then batches without --ray-address join that Ray (it
    refuses num_cpus, which --workers would pass) and leave it running."""
    assert not ray.is_initialized(), "another test left Ray running"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    with own_ray_head(env) as head:  # a Ray of this test's own, stopped at the end
        rows = write_csv(
            tmp_path / "rows.csv",
            [{"name": "Ada", "city": "Oslo"}, {"name": "Alan", "city": "Leeds"}],
        )
        rc = main(
            ["batch", str(greetings), str(rows), "--json", "-q", "--out", str(tmp_path / "out"),
             "--cache-dir", str(tmp_path / "cache"), "--executor", "ray", "--workers", "2"]
        )  # fmt: skip
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert rc == 0, summary
        for r in summary["rows"]:
            assert (tmp_path / "out" / f"{r['stem']}.mp4").is_file()
        # the row after the first ran on that Ray (found by itself, with its auth token)
        assert summary["rows"][1]["worker"] != f"{os.uname().nodename}:{os.getpid()}"
        assert not ray.is_initialized()  # the driver disconnected...
        assert head.poll() is None  # ...and the Ray it joined still runs
