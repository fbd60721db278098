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
        # A suite started in the background (`cmd &` in a script) passes SIGINT on as
        # ignored, and Python then installs no Ctrl+C handler: give the CLI the
        # default, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
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


# --- what `run` accepts --------------------------------------------------------------


def _write(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_a_shipped_workflow_runs_by_name_from_any_folder(tmp_path, cache_env):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = reelgraph(
        "run", "demo_image", "--out", tmp_path / "out", "--json", "-q",
        cwd=elsewhere, env_extra=cache_env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (png,) = json.loads(proc.stdout)["outputs"]
    assert Path(png).is_file() and Path(png).parent == tmp_path / "out"
    assert reelgraph("validate", "demo_image", "slideshow", cwd=elsewhere).returncode == 0


def test_an_unknown_name_lists_the_shipped_workflows(tmp_path):
    proc = reelgraph("run", "explainr", "--out", tmp_path, cwd=tmp_path)
    assert proc.returncode == 2
    assert "no shipped workflow is called 'explainr'" in proc.stderr
    assert "explainer" in proc.stderr and "slideshow" in proc.stderr


def test_a_path_wins_over_a_shipped_name(tmp_path):
    (tmp_path / "demo_image").write_text("{not json")  # a file called like the shipped one
    proc = reelgraph("validate", "demo_image", cwd=tmp_path)
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr, proc.stderr


def test_a_png_reruns_the_workflow_and_params_that_made_it(tmp_path, cache_env):
    import numpy as np
    from PIL import Image

    from reelgraph.media import read_png_text

    first = reelgraph(
        "run", DEMO, "--out", tmp_path / "a", "--set", "blur=7.5", "--set", "color=#ff0000",
        "--json", "-q", env_extra=cache_env,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    (png,) = json.loads(first.stdout)["outputs"]
    # Moved to another folder and run from a third one, with a fresh cache.
    carried = tmp_path / "inbox" / "picture.png"
    carried.parent.mkdir()
    Path(png).rename(carried)
    again = reelgraph(
        "run", carried, "--out", tmp_path / "b", "--json", "-q", cwd=tmp_path,
        env_extra={"REELGRAPH_CACHE_DIR": str(tmp_path / "other-cache")},
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    (png2,) = json.loads(again.stdout)["outputs"]
    assert np.array_equal(np.asarray(Image.open(carried)), np.asarray(Image.open(png2)))
    embedded = json.loads(read_png_text(Path(png2).read_bytes())["reelgraph.workflow"])
    assert embedded["nodes"]["soften"]["inputs"]["sigma"] == 7.5
    assert embedded["nodes"]["base"]["inputs"]["color"] == "#ff0000"


SOUND = {
    "format": "reelgraph.workflow",
    "version": 1,
    "nodes": {
        "quiet": {"type": "audio.Silence", "inputs": {"seconds": 0.25, "sample_rate": 8000}},
        "save": {
            "type": "audio.SaveWAV",
            "inputs": {"audio": {"from": "quiet", "output": "audio"}, "filename": "hush"},
        },
    },
    "params": {"length": {"node": "quiet", "input": "seconds", "type": "FLOAT", "default": 0.25}},
}


def test_a_wav_reruns_the_workflow_that_made_it(tmp_path, cache_env):
    import wave

    wf = _write(tmp_path / "sound.json", SOUND)
    first = reelgraph(
        "run", wf, "--out", tmp_path / "a", "--set", "length=0.5", "--json", "-q",
        env_extra=cache_env,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    (wav,) = json.loads(first.stdout)["outputs"]
    again = reelgraph("run", wav, "--out", tmp_path / "b", "--json", "-q", env_extra=cache_env)
    assert again.returncode == 0, again.stderr
    (wav2,) = json.loads(again.stdout)["outputs"]
    with wave.open(wav2) as w:
        assert w.getnframes() == 4000  # the 0.5 s the first run was given, not the 0.25 default
    assert Path(wav2).read_bytes() == Path(wav).read_bytes()


def test_an_mp4_reruns_the_workflow_that_made_it(tmp_path, cache_env):
    import av

    doc = {
        "format": "reelgraph.workflow",
        "version": 1,
        "nodes": {
            "solid": {"type": "image.Solid", "inputs": {"width": 64, "height": 48}},
            "clip": {
                "type": "video.ImageToClip",
                "inputs": {
                    "image": {"from": "solid", "output": "image"},
                    "duration": 0.5,
                    "tail": 0.0,
                    "fps": 8.0,
                },
            },
            "encode": {
                "type": "video.Encode",
                "inputs": {"video": {"from": "clip", "output": "video"}, "filename": "tiny"},
            },
        },
        "params": {
            "color": {"node": "solid", "input": "color", "type": "TEXT", "default": "#0000ff"}
        },
    }
    wf = _write(tmp_path / "tiny.json", doc)
    first = reelgraph(
        "run", wf, "--out", tmp_path / "a", "--set", "color=#ff0000", "--json", "-q",
        env_extra=cache_env,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    (mp4,) = json.loads(first.stdout)["outputs"]
    again = reelgraph("run", mp4, "--out", tmp_path / "b", "--json", "-q", env_extra=cache_env)
    assert again.returncode == 0, again.stderr
    (mp4_again,) = json.loads(again.stdout)["outputs"]
    with av.open(mp4_again) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="rgb24")
    red, green, blue = (int(v) for v in frame[24, 32])
    assert red > 200 and green < 60 and blue < 60  # the red it was made with, not the blue default


def test_a_file_without_a_workflow_says_so(tmp_path):
    import wave

    import numpy as np

    from reelgraph.nodes.png import encode_png

    plain_png = tmp_path / "plain.png"
    plain_png.write_bytes(encode_png(np.zeros((4, 4, 3), np.uint8)))
    plain_wav = tmp_path / "plain.wav"
    with wave.open(str(plain_wav), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    for carrier in (plain_png, plain_wav):
        proc = reelgraph("run", carrier, "--out", tmp_path / "out")
        assert proc.returncode == 2, proc.stderr
        assert f"{carrier.name} carries no reelgraph workflow" in proc.stderr
        assert "JSON" not in proc.stderr and "codec" not in proc.stderr
    junk = tmp_path / "notes.bin"
    junk.write_bytes(bytes(range(256)) * 4)
    proc = reelgraph("run", junk, "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert "not a workflow JSON" in proc.stderr and "not a PNG, WAV or video file" in proc.stderr


# --- progress off a terminal ---------------------------------------------------------

PROGRESS_NODE = '''
import time

from reelgraph import INT, Context, node


@node("slowpack.Steps", category="test", outputs={"value": INT}, output=True)
def steps(ctx: Context, count: int = 30) -> int:
    """Takes a while, reporting each step."""
    for i in range(count):
        ctx.progress(i + 1, count)
        time.sleep(0.05)
    return count
'''


def _slow_run(tmp_path, cache_env, *extra):
    folder = tmp_path / "nodes"
    folder.mkdir(exist_ok=True)
    (folder / "steps.py").write_text(PROGRESS_NODE)
    wf = _write(
        tmp_path / "steps.json",
        {
            "format": "reelgraph.workflow",
            "version": 1,
            "nodes": {"long": {"type": "slowpack.Steps", "inputs": {"count": 40}}},
        },
    )
    return reelgraph(
        "run", wf, "--out", tmp_path / "out", "--no-disk-cache", *extra,
        env_extra={**cache_env, "REELGRAPH_CUSTOM_NODES": str(folder)},
    )  # fmt: skip


def test_progress_off_a_terminal_is_lines_on_stderr(tmp_path, cache_env):
    import re

    proc = _slow_run(tmp_path, cache_env, "--progress-interval", "0.5")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert any(re.fullmatch(r"\[0/1 0:00:0\d\] start +long \(slowpack\.Steps\)", x) for x in lines)
    assert any(re.fullmatch(r"\[1/1 0:00:0\d\] done +long \(slowpack\.Steps\) in \d+\.\d s", x)
               for x in lines), proc.stderr  # fmt: skip
    # While the node runs (about 2 s), a line at least every 0.5 s: which node, how far.
    running = [x for x in lines if " running long (slowpack.Steps) " in x]
    assert running and all(re.search(r"\d+/40, \d+\.\d s$", x) for x in running), proc.stderr
    assert proc.stdout.strip() == str(tmp_path / "out") or "out" not in proc.stdout


def test_quiet_silences_progress_and_json_keeps_stdout_to_the_result(tmp_path, cache_env):
    quiet = _slow_run(tmp_path, cache_env, "--quiet", "--progress-interval", "0.2")
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    as_json = _slow_run(tmp_path, cache_env, "--json", "--progress-interval", "0.2")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["status"] == "finished"  # nothing else on stdout
    assert "start   long" in as_json.stderr


def test_line_progress_reports_a_long_node_at_every_interval():
    """The default 10 s cadence, on a clock the test moves (the ticker thread is not started)."""
    import io

    from reelgraph.engine.progress import LineProgress
    from reelgraph.engine.scheduler import Event

    now = [100.0]
    out = io.StringIO()
    lp = LineProgress(out, lambda nid: "video.Encode", interval=10.0, clock=lambda: now[0])
    lp(Event("run.scheduled", "r", None, {"to_run": 3, "cached": 1}))
    lp(Event("node.started", "r", "enc", {}))
    lp(Event("node.progress", "r", "enc", {"value": 5, "max": 50}))
    said = []
    for t in (104.0, 109.0, 110.5, 115.0, 121.0, 131.0):
        now[0] = t
        lp.heartbeat()
        said.append(out.getvalue().count("running enc"))
    assert said == [0, 0, 1, 1, 2, 3]
    lp(Event("node.finished", "r", "enc", {"seconds": 33.0}))
    now[0] = 150.0
    lp.heartbeat()
    lines = out.getvalue().splitlines()
    assert lines[0] == "[0/3 0:00:00] run: 3 node(s) to run, 1 cached"
    assert lines[2] == "[0/3 0:00:10] running enc (video.Encode) 5/50, 10.5 s"
    assert lines[-1] == "[1/3 0:00:31] done    enc (video.Encode) in 33.0 s"


# --- planning once, importing little -------------------------------------------------

COUNTING_NODE = """
from pathlib import Path

from reelgraph import INT, node

LOG = Path(__file__).with_name("fingerprints.log")


def _count(values):
    with LOG.open("a") as f:
        f.write("fingerprint\\n")
    return "same"


@node("countpack.Value", category="test", outputs={"value": INT}, output=True,
      fingerprint=_count)
def value(n: int = 3) -> int:
    return n
"""


def test_run_plans_once(tmp_path, cache_env):
    folder = tmp_path / "nodes"
    folder.mkdir()
    (folder / "count.py").write_text(COUNTING_NODE)
    wf = _write(
        tmp_path / "count.json",
        {
            "format": "reelgraph.workflow",
            "version": 1,
            "nodes": {"v": {"type": "countpack.Value", "inputs": {}}},
        },
    )
    proc = reelgraph(
        "run", wf, "--out", tmp_path / "out", "-q",
        env_extra={**cache_env, "REELGRAPH_CUSTOM_NODES": str(folder)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (folder / "fingerprints.log").read_text().splitlines() == ["fingerprint"]


@pytest.mark.parametrize("argv", [["--help"], ["nodes"], ["nodes", "--json"], ["run", "--help"]])
def test_the_cli_imports_aiohttp_only_to_serve(argv):
    code = (
        "import contextlib, io, sys\n"
        "from reelgraph.engine.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        f"    main({argv!r})\n"
        "print('serve' in out.getvalue() or 'nodes' in sys.argv, file=sys.stderr)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'aiohttp'))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout
    if argv == ["--help"]:
        assert "True" in proc.stderr  # `serve` is still offered, through its entry point
