"""`reelgraph run --isolate`: the CLI runs the workflow through the server's worker path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import REPO, prepare_folder, wf


def _run(tmp_path: Path, doc: dict, *flags: str) -> subprocess.CompletedProcess[str]:
    prepare_folder(tmp_path)
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(doc))
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        REELGRAPH_CUSTOM_NODES=str(tmp_path / "custom_nodes"),
        REELGRAPH_CACHE_DIR=str(tmp_path / "cache"),
    )
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "reelgraph.engine.cli",
            "run",
            str(path),
            "--out",
            str(tmp_path / "out"),
            "--json",
            "-q",
            *flags,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_isolate_runs_nodes_in_another_process(tmp_path):
    r = _run(tmp_path, wf({"p": {"type": "rgtest.Pid", "inputs": {"label": "iso"}}}), "--isolate")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["status"] == "finished"


def test_isolate_survives_a_segfaulting_node(tmp_path):
    r = _run(tmp_path, wf({"n": {"type": "rgtest.Segfault", "inputs": {}}}), "--isolate")
    assert r.returncode == 1, (r.returncode, r.stderr)
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["status"] == "failed"
    failure = summary["failed"]["n"]
    assert failure["message"].startswith(
        "the worker running node n (rgtest.Segfault) died: signal 11"
    )


def test_without_isolate_the_cli_runs_in_process(tmp_path):
    r = _run(tmp_path, wf({"p": {"type": "rgtest.Pid", "inputs": {"label": "inproc"}}}))
    assert r.returncode == 0, r.stderr
