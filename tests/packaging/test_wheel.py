"""The wheel, installed (not editable) into a fresh venv, works from a folder that holds a
`nodes.py`, a `server.py` and an `engine/` package of its own on PYTHONPATH (a ComfyUI
checkout has all three): reelgraph claims no top-level name but `reelgraph`.

The venv gets reelgraph only from the wheel. Its other dependencies (torch and the rest,
gigabytes) come from this test's own environment through a folder of symlinks that
leaves out every `reelgraph` entry and the editable install's hooks, named in a .pth
file; a path line in a .pth adds a folder to sys.path without processing the .pth files
inside it, so the checkout can never leak in.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

# What a folder that is not reelgraph's may hold; importing any of them is the bug.
SQUATTERS = {
    "nodes.py": "NODE_CLASS_MAPPINGS = {}\nraise ImportError('imported the folder\\'s nodes.py')\n",
    "server.py": "raise ImportError('imported the folder\\'s server.py')\n",
    "engine/__init__.py": "raise ImportError('imported the folder\\'s engine/')\n",
    "engine/cli.py": "raise ImportError('imported the folder\\'s engine/cli.py')\n",
}


def _check(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _build_wheel(base: Path) -> Path:
    # Built from a copy of what the wheel is made of, so the checkout gets no build/ folder.
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "reelgraph", src / "reelgraph", ignore=shutil.ignore_patterns("__pycache__")
    )
    dist = base / "dist"
    _check(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(dist), str(src)],
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )  # fmt: skip
    (wheel,) = dist.glob("reelgraph-*.whl")
    return wheel


def _dependency_folder(base: Path) -> Path:
    """Symlinks to this environment's installed packages, reelgraph's own entries left out."""
    deps = base / "deps"
    deps.mkdir()
    for site in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        for entry in Path(site).iterdir():
            name = entry.name.lower()
            if name.startswith(("reelgraph", "__editable__")) or name.endswith(".pth"):
                continue
            if not (deps / entry.name).exists():
                (deps / entry.name).symlink_to(entry)
    return deps


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("wheel")
    wheel = _build_wheel(base)
    venv = base / "venv"
    _check([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    py = venv / "bin" / "python"
    site = Path(_check([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())  # fmt: skip
    (site / "reelgraph-test-deps.pth").write_text(f"{_dependency_folder(base)}\n")
    _check(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )  # fmt: skip
    folder = base / "comfy"
    for name, text in SQUATTERS.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "REELGRAPH_", "VIRTUAL_ENV"))
    }
    env.update(
        PYTHONPATH=str(folder),
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        REELGRAPH_CACHE_DIR=str(base / "cache"),
        OMP_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
    )
    return {
        "wheel": wheel,
        "reelgraph": str(venv / "bin" / "reelgraph"),
        "python": str(py),
        "site": site,
        "folder": folder,
        "env": env,
        "base": base,
    }


def _in_folder(installed: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        cwd=installed["folder"],
        env=installed["env"],
        timeout=timeout,
    )


def test_the_wheel_holds_reelgraph_its_editor_and_workflows_only(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"reelgraph", "reelgraph-0.1.0.dist-info"}, tops
    for must in (
        "reelgraph/__init__.py",
        "reelgraph/engine/cli.py",
        "reelgraph/nodes/__init__.py",
        "reelgraph/server/app.py",
        "reelgraph/web/index.html",
        "reelgraph/web/style.css",
        "reelgraph/web/js/app.js",
        "reelgraph/workflows/explainer.json",
        "reelgraph/workflows/slideshow.json",
        "reelgraph/workflows/assets/music.m4a",
    ):
        assert must in names, must
    shipped_js = {p.name for p in (ROOT / "reelgraph" / "web" / "js").glob("*.js")}
    assert {n.rsplit("/", 1)[1] for n in names if n.startswith("reelgraph/web/js/")} == shipped_js
    slides = [n for n in names if n.startswith("reelgraph/workflows/assets/slides/")]
    assert len(slides) == len(list((ROOT / "reelgraph/workflows/assets/slides").iterdir()))


def test_the_installed_package_is_the_wheels(installed):
    proc = _in_folder(
        installed, installed["python"], "-c", "import reelgraph; print(reelgraph.__file__)"
    )
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).is_relative_to(installed["site"])


def test_nodes_lists_every_built_in_type(installed):
    from reelgraph.engine import Registry

    expected = Registry()
    expected.load_entry_points()
    proc = _in_folder(installed, installed["reelgraph"], "nodes", "--json")
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(proc.stdout)
    assert listing["load_errors"] == []
    assert sorted(n["id"] for n in listing["nodes"]) == sorted(nt.id for nt in expected)
    assert "failed to load" not in proc.stderr


def test_serve_serves_the_editor_and_its_modules(installed):
    port_file = installed["base"] / "port"
    server = subprocess.Popen(
        [installed["reelgraph"], "serve", "--port", "0", "--port-file", str(port_file),
         "--data", str(installed["base"] / "data")],
        cwd=installed["folder"], env=installed["env"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not port_file.exists():
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port_file.read_text()}"
        with urllib.request.urlopen(url + "/", timeout=30) as r:
            page = r.read().decode()
            assert r.status == 200 and "text/html" in r.headers["Content-Type"]
        assert '<script type="module" src="js/app.js">' in page
        for module in ("app.js", "editor.js"):
            with urllib.request.urlopen(f"{url}/js/{module}", timeout=30) as r:
                assert r.status == 200 and "javascript" in r.headers["Content-Type"]
                assert r.read() == (ROOT / "reelgraph" / "web" / "js" / module).read_bytes()
        with urllib.request.urlopen(url + "/api/nodes", timeout=30) as r:
            assert r.status == 200
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# One short scene instead of the shipped five: the same nodes, fonts, voice and encoder
# from the installed wheel, in a fraction of the render time.
SHORT_SCRIPT = "# Installed\nVisual: A wheel, installed anywhere.\nIt runs from any folder.\n"


@pytest.mark.timeout(900)
def test_run_explainer_by_name_writes_the_mp4(installed):
    import av

    out = installed["base"] / "out"
    proc = _in_folder(
        installed, installed["reelgraph"], "run", "explainer", "--out", str(out),
        "--set", f"script={SHORT_SCRIPT}", "--json", "-q", timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    mp4s = [Path(p) for p in json.loads(proc.stdout)["outputs"] if p.endswith(".mp4")]
    assert len(mp4s) == 1 and mp4s[0].parent == out
    with av.open(str(mp4s[0])) as c:
        assert c.streams.video[0].frames > 0 and c.streams.audio
        embedded = json.loads(c.metadata["reelgraph.workflow"])
    assert embedded["nodes"]["script"]["inputs"]["text"] == SHORT_SCRIPT
