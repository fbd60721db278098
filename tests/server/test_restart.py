"""SIGKILL the server mid-run and start it again on the same data folder."""

from __future__ import annotations

import time

from .conftest import IMAGE_WF, slow_wf, wf


def test_sigkill_then_restart_resumes_queue_and_keeps_history(make_server):
    srv = make_server()
    done = srv.queue(IMAGE_WF)
    finished = srv.wait_run(done)
    png_url = finished["outputs"]["s"]["paths"][0]["url"]
    png = srv.get(png_url).body
    # A node that writes its file in pieces, not atomically: kill it half-way.
    writer = wf(
        {"w": {"type": "rgtest.SlowWrite", "inputs": {"steps": 100, "delay": 0.03, "chunk": 1000}}}
    )
    running = srv.queue(writer)
    queued = [srv.queue(slow_wf(2, 0.0, f"q{i}")) for i in range(3)]
    deadline = time.monotonic() + 30
    while True:
        run = srv.get(f"/api/runs/{running}").json()
        progress = run["nodes"]["w"].get("progress", {}).get("value", 0)
        if run["status"] == "running" and progress >= 5:
            break
        assert time.monotonic() < deadline, run
        time.sleep(0.02)
    srv.kill()

    data = srv.data
    # Nothing half-written under a final name: the partial file sits only in staging.
    assert not (data / "outputs" / running).exists()
    partial = data / "outputs" / ".partial" / running / "slow.bin"
    assert partial.exists() and partial.stat().st_size < 100 * 1000

    # leftovers of a killed server that the next start sweeps away
    (data / "uploads" / ".upload-1-2.tmp").write_bytes(b"half an upload")
    (data / "outputs" / ".partial" / "0123456789abcdef").mkdir()
    srv.start()  # same data folder, new process
    assert not (data / "uploads" / ".upload-1-2.tmp").exists()
    assert not (data / "outputs" / ".partial" / "0123456789abcdef").exists()
    system = srv.get("/api/system").json()
    assert system["recovered_runs"] == [running]
    run = srv.wait_run(running)
    assert run["status"] == "finished" and run["attempts"] == 2
    out = run["outputs"]["w"]["path"]
    assert out["url"] == f"/api/files/outputs/{running}/slow.bin"
    body = srv.get(out["url"]).body
    assert len(body) == 100 * 1000 and body[-1] == 99
    for q in queued:
        r = srv.wait_run(q)
        assert r["status"] == "finished" and r["attempts"] == 1
    # The interrupted run counts one crash and goes behind the runs that were waiting:
    # a run that takes the server down never runs first again.
    ordered = sorted(
        [srv.get(f"/api/runs/{i}").json() for i in [running, *queued]], key=lambda r: r["started"]
    )
    assert [r["id"] for r in ordered] == [*queued, running]
    assert srv.get(f"/api/runs/{running}").json()["crashes"] == 1
    # history and outputs from before the kill are intact
    before = srv.get(f"/api/runs/{done}").json()
    assert before["status"] == "finished" and before["attempts"] == 1
    assert srv.get(png_url).body == png
    assert not (data / "outputs" / ".partial" / running).exists()


def test_graceful_stop_requeues_the_running_run(make_server):
    srv = make_server()
    run_id = srv.queue(slow_wf(400, 0.01))
    deadline = time.monotonic() + 30
    while srv.get(f"/api/runs/{run_id}").json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    srv.stop()  # SIGTERM: the run is interrupted, not cancelled by anyone
    srv.start()
    run = srv.get(f"/api/runs/{run_id}").json()
    assert run["status"] in ("queued", "running")
    srv.post(f"/api/runs/{run_id}/cancel")
    assert srv.wait_run(run_id)["status"] == "cancelled"


def test_one_server_per_data_folder(make_server):
    import subprocess
    import sys

    from .conftest import REPO

    srv = make_server()
    r = subprocess.run(
        [sys.executable, "-m", "reelgraph.server", "--port", "0", "--data", str(srv.data)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 1 and "another reelgraph server is using" in r.stderr
    assert srv.get("/api/system").status == 200
