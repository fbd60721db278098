"""D5: no symlink is followed anywhere under the data folder (backups, workflows, uploads,
outputs), whether it was there at start or planted while the server runs."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from reelgraph.server.paths import UnsafePath, read_file, remove_file, write_file

from .conftest import REPO, wf

DOC = {"format": "reelgraph.workflow", "version": 1, "nodes": {}}


def _outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside"
    target.mkdir(exist_ok=True)
    (target / "keep.json").write_text("precious")
    return target


def _untouched(target: Path) -> None:
    assert sorted(p.name for p in target.iterdir()) == ["keep.json"]
    assert (target / "keep.json").read_text() == "precious"


def test_symlinked_backups_folder_is_never_written_through(make_server, tmp_path):
    srv = make_server()
    target = _outside(tmp_path)
    assert srv.request("PUT", "/api/workflows/w", DOC).status == 201
    backups = srv.data / "workflows" / ".backups"
    shutil.rmtree(backups, ignore_errors=True)
    os.symlink(target, backups)
    put = srv.request("PUT", "/api/workflows/w", {**DOC, "name": "v2"})
    assert put.status == 400 and "symbolic link" in put.json()["error"]
    delete = srv.request("DELETE", "/api/workflows/w")
    assert delete.status == 400 and "symbolic link" in delete.json()["error"]
    _untouched(target)
    # the saved workflow is still the first version: nothing half-done
    saved = srv.get("/api/workflows/w")
    assert saved.status == 200 and saved.json().get("name") != "v2"


# The tests that replace a whole folder of the data folder by a link get a server of their
# own; the two that plant one link (a workflow file, a file in a finished run's folder) share
# the module's server.


def test_symlinked_workflow_file_is_refused_for_read_write_and_delete(server, tmp_path):
    srv = server
    target = _outside(tmp_path)
    link = srv.data / "workflows" / "linked.json"
    os.symlink(target / "keep.json", link)
    assert srv.get("/api/workflows/linked").status == 400
    assert srv.request("PUT", "/api/workflows/linked", DOC).status == 400
    assert srv.request("DELETE", "/api/workflows/linked").status == 400
    assert srv.post("/api/runs", {"workflow": "linked"}).status == 400
    assert link.is_symlink()
    _untouched(target)
    names = [w["name"] for w in srv.get("/api/workflows").json()["workflows"]]
    assert "linked" not in names


def test_symlinked_uploads_folder_is_refused_after_start(make_server, tmp_path):
    srv = make_server()
    target = _outside(tmp_path)
    uploads = srv.data / "uploads"
    shutil.rmtree(uploads)
    os.symlink(target, uploads)
    buf = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buf, format="PNG")
    r = srv.request(
        "POST",
        "/api/uploads?filename=x.png",
        raw=buf.getvalue(),
        headers={"Content-Type": "image/png"},
    )
    assert r.status == 409 and "symbolic link" in r.json()["error"]
    assert srv.get("/api/uploads").json()["uploads"] == []
    _untouched(target)


def test_symlinked_staging_folder_is_not_written_through(make_server, tmp_path):
    srv = make_server()
    target = _outside(tmp_path)
    staging = srv.data / "outputs" / ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    os.symlink(target, staging)
    writer = wf({"w": {"type": "rgtest.SlowWrite", "inputs": {"steps": 2, "delay": 0.0}}})
    run = srv.wait_run(srv.queue(writer))
    assert run["status"] == "failed"
    assert "symbolic link" in run["error"]["message"]
    _untouched(target)


def test_a_symlink_a_node_leaves_in_its_outputs_is_removed_not_published(server, tmp_path):
    srv = server
    target = _outside(tmp_path)
    run_id = srv.queue(wf({"w": {"type": "rgtest.SlowWrite", "inputs": {"steps": 1}}}))
    run = srv.wait_run(run_id)
    assert run["status"] == "finished"
    folder = srv.data / "outputs" / run_id
    os.symlink(target / "keep.json", folder / "planted.json")
    files = [f["file"] for f in srv.get(f"/api/runs/{run_id}").json()["files"]]
    assert files == [f"outputs/{run_id}/slow.bin"]
    assert srv.get(f"/api/files/outputs/{run_id}/planted.json").status == 400
    assert srv.request("DELETE", f"/api/runs/{run_id}").status == 200
    _untouched(target)


def test_server_refuses_a_data_folder_whose_folders_are_symlinks(tmp_path):
    target = _outside(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    os.symlink(target, data / "outputs")
    r = subprocess.run(
        [sys.executable, "-m", "reelgraph.server", "--port", "0", "--data", str(data)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1 and "is a symbolic link: refused" in r.stderr
    _untouched(target)


def test_nofollow_primitives(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    target = _outside(tmp_path)
    write_file(root, "a/b.json", b"1")
    assert read_file(root, "a/b.json") == b"1"
    os.symlink(target, root / "link")
    os.symlink(target / "keep.json", root / "a" / "file-link")
    for rel in ("link/new.json", "a/file-link"):
        with pytest.raises(UnsafePath, match="symbolic link"):
            write_file(root, rel, b"x")
    with pytest.raises(UnsafePath):
        read_file(root, "link/keep.json")
    with pytest.raises(UnsafePath):
        read_file(root, "a/file-link")
    os.mkfifo(root / "a" / "fifo")
    with pytest.raises(UnsafePath, match="not a regular file"):
        read_file(root, "a/fifo")  # returns at once: never blocks on a FIFO
    remove_file(root, "a/file-link")  # the link itself goes, its target stays
    _untouched(target)
