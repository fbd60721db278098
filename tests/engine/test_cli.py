"""The `reelgraph` command, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "reelgraph" / "workflows" / "demo_image.json"


def reelgraph(*args, cwd=ROOT, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "reelgraph.engine.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=180,
    )


@pytest.fixture
def cache_env(tmp_path):
    return {"REELGRAPH_CACHE_DIR": str(tmp_path / "cache")}


def test_run_prints_outputs_and_a_summary(tmp_path, cache_env):
    proc = reelgraph("run", DEMO, "--out", tmp_path / "out", env_extra=cache_env)
    assert proc.returncode == 0, proc.stderr
    (png,) = proc.stdout.split()
    assert Path(png).is_file() and Path(png).parent == tmp_path / "out"
    assert (
        "finished" in proc.stderr and "7 executed" in proc.stderr and "slowest nodes" in proc.stderr
    )


def test_set_params_and_the_output_embeds_the_applied_workflow(tmp_path, cache_env):
    from reelgraph.media import read_png_text

    proc = reelgraph(
        "run",
        DEMO,
        "--out",
        tmp_path,
        "--set",
        "blur=7.5",
        "--set",
        "color=#ff0000",
        "--json",
        "-q",
        env_extra=cache_env,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    embedded = json.loads(
        read_png_text(Path(summary["outputs"][0]).read_bytes())["reelgraph.workflow"]
    )
    assert embedded["nodes"]["soften"]["inputs"]["sigma"] == 7.5
    assert embedded["nodes"]["base"]["inputs"]["color"] == "#ff0000"


def test_bad_param_value_is_a_clear_error(tmp_path, cache_env):
    proc = reelgraph("run", DEMO, "--out", tmp_path, "--set", "blur=lots", env_extra=cache_env)
    assert proc.returncode == 2
    assert "blur" in proc.stderr and "lots" in proc.stderr


def test_only_runs_the_chosen_node_and_its_inputs(tmp_path, cache_env):
    proc = reelgraph(
        "run", DEMO, "--out", tmp_path, "--only", "mix", "--json", "-q", env_extra=cache_env
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(json.loads(proc.stdout)["executed"]) == ["accent", "base", "mix"]
    assert not list(tmp_path.glob("*.png"))


def test_failing_node_exits_1_naming_the_node(tmp_path, cache_env):
    wf = json.loads(DEMO.read_text())
    wf["nodes"]["save"]["inputs"]["prefix"] = "../escape"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(wf))
    proc = reelgraph("run", path, "--out", tmp_path / "out", env_extra=cache_env)
    assert proc.returncode == 1
    assert "'save'" in proc.stderr and "image.SavePNG" in proc.stderr and "prefix" in proc.stderr


def test_validate_reports_every_problem_and_exits_non_zero(tmp_path):
    wf = json.loads(DEMO.read_text())
    wf["nodes"]["soften"]["inputs"]["sigma"] = 1000
    wf["nodes"]["thumb"]["inputs"]["image"] = {"from": "nowhere", "output": "image"}
    wf["nodes"]["extra"] = {"type": "vendor.Unknown", "inputs": {}}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(wf))
    proc = reelgraph("validate", path)
    assert proc.returncode == 2
    for fragment in (
        "'soften'",
        "'sigma'",
        "'thumb'",
        "'nowhere'",
        "'extra'",
        "vendor.Unknown",
        "3 error(s)",
    ):
        assert fragment in proc.stderr, fragment
    ok = reelgraph("validate", DEMO)
    assert ok.returncode == 0 and "ok" in ok.stderr
    as_json = json.loads(reelgraph("validate", path, "--json").stdout)
    assert not as_json["ok"] and {i["node"] for i in as_json["issues"]} == {
        "soften",
        "thumb",
        "extra",
    }


def test_validate_missing_file_and_bad_json(tmp_path):
    proc = reelgraph("validate", tmp_path / "missing.json")
    assert proc.returncode == 2 and "missing.json" in proc.stderr and "cannot read" in proc.stderr
    (tmp_path / "broken.json").write_text("{nope")
    proc = reelgraph("validate", tmp_path / "broken.json")
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr


def test_nodes_lists_schemas_as_json():
    proc = reelgraph("nodes", "--json")
    assert proc.returncode == 0
    data = json.loads(proc.stdout)
    blur = next(nt for nt in data["nodes"] if nt["id"] == "image.Blur")
    sigma = next(i for i in blur["inputs"] if i["name"] == "sigma")
    assert (
        sigma["widget"]["kind"] == "FLOAT"
        and sigma["widget"]["max"] == 100.0
        and sigma["default"] == 1.0
    )
    assert blur["outputs"] == [{"name": "image", "type": "IMAGE"}]
    assert data["load_errors"] == []


SLOW_NODE = '''
import time
from reelgraph import INT, Context, node


@node("slowpack.Wait", category="test", outputs={"value": INT}, output=True)
def wait(ctx: Context, steps: int = 100000) -> int:
    """Sleeps in small steps."""
    ctx.output_path("started").touch()
    for i in range(steps):
        ctx.progress(i, steps)
        time.sleep(0.01)
    return steps
'''


def test_ctrl_c_cancels_the_run_cleanly(tmp_path, cache_env):
    import signal
    import time

    folder = tmp_path / "nodes"
    folder.mkdir()
    (folder / "slow.py").write_text(SLOW_NODE)
    wf = tmp_path / "slow.json"
    wf.write_text(
        json.dumps(
            {
                "format": "reelgraph.workflow",
                "version": 1,
                "nodes": {"w": {"type": "slowpack.Wait", "inputs": {}}},
            }
        )
    )
    env = {**os.environ, **cache_env, "REELGRAPH_CUSTOM_NODES": str(folder)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reelgraph.engine.cli", "run", str(wf), "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    # Press Ctrl+C once the node is really running.
    deadline = time.monotonic() + 120
    while (
        not (tmp_path / "started").exists() and time.monotonic() < deadline and proc.poll() is None
    ):
        time.sleep(0.1)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _out, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "cancelling" in stderr and "cancelled" in stderr


def test_listing_nodes_imports_no_heavy_library():
    code = (
        "import sys; from reelgraph.engine import Registry; Registry.discover(); "
        "print(sorted(m for m in ('torch', 'av', 'cv2', 'diffusers', 'transformers', 'numpy', "
        "'networkx', 'aiohttp', 'PIL', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
