"""A real `python -m reelgraph.server` subprocess on a free loopback port, per test module."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def wf(nodes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"format": "reelgraph.workflow", "version": 1, "nodes": nodes, **extra}


def link(node: str, output: str) -> dict[str, str]:
    return {"from": node, "output": output}


IMAGE_WF = wf(
    {
        "a": {"type": "image.Solid", "inputs": {"width": 64, "height": 48, "color": "#ff8000"}},
        "b": {"type": "image.Blur", "inputs": {"image": link("a", "image"), "sigma": 1.5}},
        "p": {"type": "image.Preview", "inputs": {"image": link("b", "image")}},
        "s": {"type": "image.SavePNG", "inputs": {"image": link("b", "image"), "prefix": "frame"}},
    },
    name="image demo",
)


def slow_wf(steps: int, delay: float, label: str = "x") -> dict[str, Any]:
    return wf(
        {"s": {"type": "rgtest.Slow", "inputs": {"steps": steps, "delay": delay, "label": label}}}
    )


class Reply:
    def __init__(self, status: int, headers: Any, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


class ServerProcess:
    """One server subprocess; `stop()` / `kill()` / `start()` again on the same data folder."""

    def __init__(
        self,
        data: Path,
        *,
        token: str | None = None,
        extra: list[str] | None = None,
        command: list[str] | None = None,
    ):
        self.command = command or [sys.executable, "-m", "reelgraph.server"]
        self.data = data
        self.token = token
        self.extra = extra or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log = data.parent / f"{data.name}-server.log"

    def start(self) -> ServerProcess:
        port_file = self.data.parent / f"{self.data.name}.port"
        port_file.unlink(missing_ok=True)
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        env.pop("REELGRAPH_TOKEN", None)
        cmd = [
            *self.command,
            "--port",
            "0",
            "--data",
            str(self.data),
            "--port-file",
            str(port_file),
            "--custom-nodes",
            str(self.data.parent / "custom_nodes"),
            "--templates",
            str(self.data.parent / "templates"),
            *self.extra,
        ]
        if self.token:
            cmd += ["--token", self.token]
        log = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{self.log.read_text()}")
            time.sleep(0.02)
        self.port = int(port_file.read_text())
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        auth: bool = True,
        timeout: float = 30,
    ) -> Reply:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        h = {"Content-Type": "application/json"} if body is not None else {}
        if self.token and auth:
            h["Authorization"] = f"Bearer {self.token}"
        h.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Reply(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return Reply(e.code, e.headers, e.read())

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, body, **kw)

    def queue(self, workflow: Any, **extra: Any) -> str:
        r = self.post("/api/runs", {"workflow": workflow, **extra})
        assert r.status == 202, r.body
        return r.json()["run_id"]

    def wait_run(
        self,
        run_id: str,
        statuses: tuple[str, ...] = ("finished", "failed", "cancelled"),
        timeout: float = 60,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.get(f"/api/runs/{run_id}").json()
            if run["status"] in statuses:
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} still {run['status']} after {timeout}s")
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def prepare_folder(root: Path) -> None:
    """custom_nodes/ with the test nodes, templates/ with one template."""
    (root / "custom_nodes").mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "testnodes_src.py", root / "custom_nodes" / "rgtest_nodes.py")
    (root / "templates").mkdir(exist_ok=True)
    (root / "templates" / "image-demo.json").write_text(json.dumps(IMAGE_WF))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("srv")
    prepare_folder(root)
    srv = ServerProcess(root / "data").start()
    yield srv
    srv.stop()


@pytest.fixture
def make_server(tmp_path: Path) -> Any:
    """Factory for servers with their own data folder and options."""
    prepare_folder(tmp_path)
    made: list[ServerProcess] = []

    def make(**kw: Any) -> ServerProcess:
        srv = ServerProcess(tmp_path / f"data{len(made)}", **kw)
        made.append(srv)
        return srv.start()

    yield make
    for s in made:
        s.stop()


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A server whose templates are the shipped workflows (one per test module)."""
    root = tmp_path_factory.mktemp("shipped")
    prepare_folder(root)
    srv = ServerProcess(
        root / "data", extra=["--templates", str(REPO / "reelgraph" / "workflows")]
    ).start()
    yield srv
    srv.stop()
