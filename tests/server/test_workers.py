"""Runs execute in worker processes: crashes, hangs and limits cost a run, never the server."""

from __future__ import annotations

import os
import signal
import time

import pytest

from .conftest import ServerProcess, prepare_folder, slow_wf, wf

# One server for the tests that need no flags of their own beyond these: starting a
# server (and its worker) per test cost most of this module's time. Tests that share it
# crash, kill and limit its worker on purpose, so they also show that it keeps going.
SHARED_FLAGS = ["--cancel-grace-s", "1", "--run-output-mb", "2", "--run-memory-mb", "2500"]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("workers")
    prepare_folder(root)
    srv = ServerProcess(root / "data", extra=SHARED_FLAGS).start()
    yield srv
    srv.stop()


def one(node_type: str, **inputs: object) -> dict:
    return wf({"n": {"type": node_type, "inputs": inputs}})


def _system(srv) -> dict:
    r = srv.get("/api/system")
    assert r.status == 200
    return r.json()


def _server_pid(srv) -> int:
    assert srv.proc is not None
    return srv.proc.pid


def test_runs_execute_in_a_warm_worker_process(shared):
    srv = shared
    first = srv.wait_run(srv.queue(one("rgtest.Pid", label="a")))
    second = srv.wait_run(srv.queue(one("rgtest.Pid", label="b")))
    pids = {int(r["outputs"]["n"]["text"].split(":")[1]) for r in (first, second)}
    assert len(pids) == 1, "one long-lived worker ran both runs"
    (worker_pid,) = pids
    assert worker_pid != _server_pid(srv)
    workers = _system(srv)["workers"]
    assert [w["pid"] for w in workers] == [worker_pid]


def test_the_pool_size_is_configurable_and_its_workers_run_side_by_side(make_server):
    srv = make_server(extra=["--workers", "2"])
    a = srv.queue(slow_wf(200, 0.02, "left"))
    b = srv.queue(slow_wf(200, 0.02, "right"))
    deadline = time.monotonic() + 60
    while not all(srv.get(f"/api/runs/{r}").json()["status"] == "running" for r in (a, b)):
        assert time.monotonic() < deadline, "the two runs never ran at the same time"
        time.sleep(0.05)
    workers = _system(srv)["workers"]
    assert len(workers) == 2 and len({w["pid"] for w in workers}) == 2
    assert _server_pid(srv) not in {w["pid"] for w in workers}
    for r in (a, b):
        srv.post(f"/api/runs/{r}/cancel")
    # each worker stays warm: later runs land on one of the same two processes
    done = [srv.wait_run(srv.queue(one("rgtest.Pid", label=f"p{i}"))) for i in range(3)]
    ran_in = {int(r["outputs"]["n"]["text"].split(":")[1]) for r in done}
    assert ran_in <= {w["pid"] for w in workers}


@pytest.mark.parametrize(
    ("node_type", "inputs", "how"),
    [
        ("rgtest.Segfault", {}, "signal 11"),
        ("rgtest.Exit", {"code": 3}, "exit code 3"),
    ],
)
def test_a_dying_worker_fails_only_its_run(shared, node_type, inputs, how):
    srv = shared
    bad = srv.queue(one(node_type, **inputs))
    after = srv.queue(slow_wf(3, 0.0, "after"))
    run = srv.wait_run(bad)
    assert run["status"] == "failed"
    assert run["error"]["message"].startswith(
        f"the worker running node n ({node_type}) died: {how}"
    )
    assert run["error"]["node_id"] == "n"
    listed = {r["id"]: r for r in srv.get("/api/runs?limit=50").json()["runs"]}
    assert listed[bad]["error"].startswith("the worker running")
    assert run["nodes"]["n"]["state"] == "failed"
    # the queue goes on, in a new worker; the server never noticed
    assert srv.wait_run(after)["status"] == "finished"
    system = _system(srv)
    assert system["healthy"] is True and system["worker_restarts"] >= 1
    assert srv.proc is not None and srv.proc.poll() is None


def test_sigkill_of_the_worker_fails_the_run_and_a_new_worker_starts(shared):
    srv = shared
    run_id = srv.queue(one("rgtest.Hang", seconds=60.0, label="k"))
    srv.wait_run(run_id, ("running",))
    deadline = time.monotonic() + 30
    while srv.get(f"/api/runs/{run_id}").json()["nodes"]["n"]["state"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    (worker,) = _system(srv)["workers"]
    os.kill(worker["pid"], signal.SIGKILL)  # as the OOM killer would
    run = srv.wait_run(run_id)
    assert run["status"] == "failed"
    assert run["error"]["message"] == (
        "the worker running node n (rgtest.Hang) died: signal 9 (SIGKILL)"
    )
    done = srv.wait_run(srv.queue(one("rgtest.Pid", label="next")))
    assert done["status"] == "finished"
    assert int(done["outputs"]["n"]["text"].split(":")[1]) != worker["pid"]


def test_hard_cancel_kills_a_node_that_ignores_cancellation(shared):
    srv = shared  # --cancel-grace-s 1
    run_id = srv.queue(one("rgtest.Hang", seconds=600.0, label="c"))
    srv.wait_run(run_id, ("running",))
    r = srv.post(f"/api/runs/{run_id}/cancel")
    assert r.status == 202 and r.json()["status"] == "cancelling"
    run = srv.wait_run(run_id, timeout=30)
    assert run["status"] == "cancelled"
    assert run["summary"].get("killed") is True
    assert run["nodes"]["n"]["state"] == "cancelled"
    # DELETE of a running node that ignores cancellation: cancelled (killed), then deleted
    stuck = srv.queue(one("rgtest.Hang", seconds=600.0, label="d"))
    srv.wait_run(stuck, ("running",))
    assert srv.request("DELETE", f"/api/runs/{stuck}", timeout=30).status == 200
    assert srv.get(f"/api/runs/{stuck}").status == 404
    assert srv.wait_run(srv.queue(slow_wf(2, 0.0, "then")))["status"] == "finished"


def test_a_run_that_keeps_taking_the_server_down_is_quarantined(make_server):
    srv = make_server()
    poison = srv.queue(one("rgtest.Hang", seconds=600.0, label="poison"))
    srv.wait_run(poison, ("running",))
    waiting = srv.queue(slow_wf(2, 0.0, "waiting"))
    srv.kill()  # the whole server dies while the run is running: crash 1
    srv.start()
    run = srv.get(f"/api/runs/{poison}").json()
    assert run["status"] in ("queued", "running") and run["crashes"] == 1
    # it went behind the run that was waiting, which runs first now
    assert srv.wait_run(waiting)["status"] == "finished"
    assert (
        srv.wait_run(poison, ("running",))["started"]
        > srv.get(f"/api/runs/{waiting}").json()["started"]
    )
    srv.kill()  # crash 2
    srv.start()
    run = srv.get(f"/api/runs/{poison}").json()
    assert run["status"] == "failed" and run["crashes"] == 2
    assert run["error"]["message"].startswith("quarantined after 2 crashes")
    assert _system(srv)["quarantined_runs"] == [poison]
    # not retried: the queue goes on without it, and DELETE works on it
    assert srv.wait_run(srv.queue(slow_wf(2, 0.0, "later")))["status"] == "finished"
    assert srv.get(f"/api/runs/{poison}").json()["status"] == "failed"
    assert srv.request("DELETE", f"/api/runs/{poison}").status == 200


def test_wall_time_limit_stops_a_run_and_names_the_limit(make_server):
    srv = make_server(extra=["--run-timeout-s", "1", "--cancel-grace-s", "1"])
    run = srv.wait_run(srv.queue(one("rgtest.Hang", seconds=600.0, label="t")), timeout=30)
    assert run["status"] == "failed"
    assert "wall-time limit of 1 s (--run-timeout-s)" in run["error"]["message"]
    assert run["error"]["limit"] == "seconds"


def test_output_limit_stops_a_run_and_names_the_limit(shared):
    srv = shared  # --run-output-mb 2
    run = srv.wait_run(srv.queue(one("rgtest.WriteBytes", megabytes=200, delay=0.02)), timeout=60)
    assert run["status"] == "failed"
    assert "output limit of 2 MiB (--run-output-mb)" in run["error"]["message"]
    # nothing half-written is published
    assert not (srv.data / "outputs" / run["id"] / "big.bin").exists()
    # within the limit the same node runs fine
    ok = srv.wait_run(srv.queue(one("rgtest.WriteBytes", megabytes=1, delay=0.0)))
    assert ok["status"] == "finished"


def test_memory_limit_fails_a_run_and_names_the_limit(shared):
    srv = shared  # --run-memory-mb 2500
    run = srv.wait_run(srv.queue(one("rgtest.Allocate", megabytes=4096)), timeout=120)
    assert run["status"] == "failed"
    message = run["error"]["message"] if isinstance(run["error"], dict) else run["error"]
    assert "memory limit of 2500 MiB (--run-memory-mb)" in message
    assert srv.wait_run(srv.queue(one("rgtest.Allocate", megabytes=64)))["status"] == "finished"


def test_a_run_may_ask_for_lower_limits_never_higher(shared):
    srv = shared  # the default wall-time ceiling (6 h), --cancel-grace-s 1
    r = srv.post(
        "/api/runs",
        {"workflow": one("rgtest.Hang", seconds=600.0, label="l"), "limits": {"seconds": 1}},
    )
    assert r.status == 202
    run = srv.wait_run(r.json()["run_id"], timeout=30)
    assert "wall-time limit of 1 s" in run["error"]["message"]
    assert run["limits"] == {"memory_mb": 2500, "seconds": 1.0, "output_mb": 2}
    # asking for more than the server allows gets the server's limit, not more
    r = srv.post(
        "/api/runs",
        {"workflow": slow_wf(1, 0.0, "more"), "limits": {"memory_mb": 10**9, "output_mb": 5}},
    )
    assert r.status == 202
    run = srv.wait_run(r.json()["run_id"])
    assert run["status"] == "finished"
    assert run["limits"]["memory_mb"] == 2500 and run["limits"]["output_mb"] == 2
    bad = srv.post("/api/runs", {"workflow": slow_wf(1, 0.0), "limits": {"seconds": "soon"}})
    assert bad.status == 400 and "limit 'seconds'" in bad.json()["error"]
    bad = srv.post("/api/runs", {"workflow": slow_wf(1, 0.0), "limits": {"cpu": 1}})
    assert bad.status == 400 and "unknown limit" in bad.json()["error"]
