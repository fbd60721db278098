"""Browser tests: a real `reelgraph serve` and Debian's Chromium, one of each for this package.

Each test gets its own browser context (its own storage, drafts and page); the server and its
data folder are shared, so tests name their workflows apart (starting both took ~6 s a module;
they stop after the package's last test).

Chromium is driven by Playwright for Python with `executable_path` (browser
downloads do not work here); scripts/test.sh installs Debian's chromium when
it is missing, and these tests skip only if it is still not there.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get(
    "REELGRAPH_TEST_CHROMIUM", "/usr/bin/chromium"
)  # the override exists to check the skip
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without Chromium every browser test here is skipped, with the reason (and nothing else is)."""
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(
        reason=f"{CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does)"
    )
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(skip)


TEST_NODES = '''
"""Nodes only the editor tests load: a seed widget, an upload picker, a slow node."""
from typing import Annotated, Any

import time

from reelgraph import TEXT, Context, Float, Int, Seed, Text, node


@node("edtest.Seeded", category="test", outputs={"text": TEXT}, output=True)
def seeded(seed: Annotated[int, Seed()] = 5,
           picture: Annotated[str, Text(upload="image")] = "") -> Any:
    """Echoes its seed and picture path."""
    return f"{seed}:{picture}"


@node("edtest.Slow", category="test", outputs={"text": TEXT}, output=True)
def slow(ctx: Context, steps: Annotated[int, Int(1, 100000)] = 400,
         delay: Annotated[float, Float(0.0, 5.0)] = 0.05) -> Any:
    """Reports progress while it sleeps; stops when cancelled."""
    for i in range(steps):
        ctx.check_cancelled()
        ctx.progress(i + 1, steps)
        time.sleep(delay)
    return "done"
'''


class Server:
    """`reelgraph serve` on a free loopback port with its own data folder."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data"
        port_file = root / "port"
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        env.pop("REELGRAPH_TOKEN", None)
        custom = root / "custom_nodes"
        custom.mkdir(exist_ok=True)
        (custom / "edtest_nodes.py").write_text(TEST_NODES)
        self.log_path = root / "server.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reelgraph.server",
                "--port",
                "0",
                "--data",
                str(self.data),
                "--port-file",
                str(port_file),
                "--custom-nodes",
                str(custom),
            ],
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{self.log_path.read_text()}")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{int(port_file.read_text())}"

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data else {},
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            raw = r.read()
        return json.loads(raw) if raw else None

    def put_workflow(self, name: str, doc: dict[str, Any]) -> None:
        self.request("PUT", f"/api/workflows/{name}", doc)

    def saved(self, name: str) -> dict[str, Any]:
        return json.loads((self.data / "workflows" / f"{name}.json").read_text())

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("editor-server")
    s = Server(root)
    yield s
    s.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Editor:
    """A page with the editor and the helpers tests drive it with."""

    def __init__(self, page: Any, server: Server):
        self.page = page
        self.server = server
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, query: str = "") -> Editor:
        self.page.goto(f"{self.server.url}/{query}")
        self.page.wait_for_function("document.body.classList.contains('ready')", timeout=20000)
        return self

    def doc(self) -> dict[str, Any]:
        return self.page.evaluate("JSON.parse(JSON.stringify(window.reelgraph.current.doc))")

    def node(self, node_id: str) -> Any:
        return self.page.locator(f'[data-node-id="{node_id}"]')

    def center(self, locator: Any) -> tuple[float, float]:
        box = locator.bounding_box()
        assert box is not None, f"{locator} is not visible"
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def socket(self, node_id: str, direction: str, name: str) -> Any:
        return self.node(node_id).locator(f'.sock.{direction}[data-name="{name}"]')

    def drag(self, start: tuple[float, float], end: tuple[float, float], steps: int = 8) -> None:
        m = self.page.mouse
        m.move(*start)
        m.down()
        m.move(*end, steps=steps)
        m.up()

    def connect(self, src: str, output: str, dst: str, input_name: str) -> None:
        self.drag(
            self.center(self.socket(src, "out", output)),
            self.center(self.socket(dst, "in", input_name)),
        )

    def add_node(self, query: str, x: float, y: float) -> str:
        """Double-click the canvas at (x, y), search, Enter; returns the new node's id."""
        before = set(self.doc()["nodes"])
        self.page.mouse.dblclick(x, y)
        search = self.page.locator(".palette .psearch")
        search.wait_for(state="visible")
        search.type(query)
        self.page.keyboard.press("Enter")
        self.page.wait_for_function(
            f"Object.keys(window.reelgraph.current.doc.nodes).length === {len(before) + 1}"
        )
        (new,) = set(self.doc()["nodes"]) - before
        return str(new)

    def set_number(self, node_id: str, input_name: str, value: float) -> None:
        self.node(node_id).locator(f'.row[data-input="{input_name}"] .scrub').click()
        field = self.node(node_id).locator(f'.row[data-input="{input_name}"] .numedit')
        field.fill(str(value))
        field.press("Enter")

    def link(self, node_id: str, input_name: str) -> Any:
        return self.doc()["nodes"][node_id]["inputs"].get(input_name)

    def drop_file(self, path: Path, mime: str) -> None:
        """Drop a file on the canvas the way a browser does (DataTransfer with a File)."""
        data = base64.b64encode(path.read_bytes()).decode()
        self.page.evaluate(
            """([b64, name, mime]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: mime }));
            const target = document.querySelector('#canvas');
            for (const type of ['dragenter', 'dragover', 'drop']) {
              target.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
            }
        }""",
            [data, path.name, mime],
        )


@pytest.fixture()
def editor(browser: Any, server: Server) -> Iterator[Editor]:
    context = browser.new_context(viewport={"width": 1800, "height": 1100})
    page = context.new_page()
    ed = Editor(page, server)
    yield ed
    shots = os.environ.get(
        "REELGRAPH_TEST_SHOTS"
    )  # a folder: keep a screenshot of each test's last state
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(
                Path(shots)
                / f"{os.environ.get('PYTEST_CURRENT_TEST', 'test').split(':')[-1].split(' ')[0]}.png"
            )
        )
    context.close()
    assert not ed.errors, f"errors in the page: {ed.errors}"


def shot(page: Any, name: str) -> None:
    """Screenshots for the docs (docs/img/): written only when REELGRAPH_DOC_IMG names a folder.

    Reduced to a 96-colour palette: a UI picture stays sharp and the PNG small enough to commit.
    """
    folder = os.environ.get("REELGRAPH_DOC_IMG")
    if not folder:
        return
    from PIL import Image

    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    with Image.open(path) as im:
        small = im.convert("RGB").quantize(96, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def workflow(nodes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"format": "reelgraph.workflow", "version": 1, "nodes": nodes, **extra}


def link(node: str, output: str) -> dict[str, str]:
    return {"from": node, "output": output}


def wait_http(url: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
