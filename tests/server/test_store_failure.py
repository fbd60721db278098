"""The runner survives its store failing (D4): a full disk while a run finishes."""

from __future__ import annotations

import os
import sys
import time

from .conftest import HERE, ServerProcess, prepare_folder, slow_wf


def _wait(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_store_full_while_finishing_then_recovers(tmp_path, monkeypatch):
    flag = tmp_path / "store-full"
    monkeypatch.setenv("REELGRAPH_TEST_STORE_FULL", str(flag))
    prepare_folder(tmp_path)
    srv = ServerProcess(
        tmp_path / "data", command=[sys.executable, str(HERE / "flaky_store_server.py")]
    )
    srv.start()
    try:
        assert srv.get("/api/system").json()["healthy"] is True
        run_id = srv.queue(slow_wf(20, 0.05, "during"))
        srv.wait_run(run_id, ("running",))
        flag.write_bytes(b"")  # the disk fills up while the run executes
        system = _wait(lambda: (s := srv.get("/api/system").json())["healthy"] is False and s)
        assert any("database or disk is full" in p for p in system["problems"])
        # new runs cannot be stored: 503 with the reason, not a 202 for a run that never runs
        r = srv.post("/api/runs", {"workflow": slow_wf(1, 0.0)})
        assert r.status == 503
        assert "database or disk is full" in r.json()["error"]
        assert "database or disk is full" in r.json()["reason"]
        # the run's end cannot be written yet: it is retried, not lost. Its node is done, the
        # second try to record the end failed too, and the run still shows as running.
        _wait(lambda: srv.get(f"/api/runs/{run_id}").json()["nodes"]["s"]["state"] == "finished")
        _wait(lambda: "run store: finish failed (try 2)" in srv.log.read_text())
        assert srv.get(f"/api/runs/{run_id}").json()["status"] == "running"
        os.unlink(flag)  # space again
        assert srv.wait_run(run_id)["status"] == "finished"
        _wait(lambda: srv.get("/api/system").json()["healthy"] is True)
        # the worker loop is alive: the next run runs
        assert srv.wait_run(srv.queue(slow_wf(2, 0.0, "after")))["status"] == "finished"
    finally:
        srv.stop()


def test_health_recovers_without_a_run_finishing(tmp_path, monkeypatch):
    flag = tmp_path / "store-full"
    monkeypatch.setenv("REELGRAPH_TEST_STORE_FULL", str(flag))
    prepare_folder(tmp_path)
    srv = ServerProcess(
        tmp_path / "data", command=[sys.executable, str(HERE / "flaky_store_server.py")]
    )
    srv.start()
    try:
        flag.write_bytes(b"")
        assert srv.post("/api/runs", {"workflow": slow_wf(1, 0.0)}).status == 503
        assert srv.get("/api/system").json()["healthy"] is False
        os.unlink(flag)
        _wait(lambda: srv.get("/api/system").json()["healthy"] is True)
        assert srv.post("/api/runs", {"workflow": slow_wf(1, 0.0)}).status == 202
    finally:
        srv.stop()
