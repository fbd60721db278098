"""Editor benchmark: a generated 500-node workflow in headless Chromium.

A real `reelgraph serve` on a free loopback port (temporary data folder) and
Debian's Chromium (1600x1000 viewport) driven by Playwright. The workflow is a
500-node chain (image.Solid -> 499 x image.Blur) laid out in a 25 x 20 grid so
that, fitted to the view, the whole graph is on screen. Input is sent the way
a real mouse does: drags and wheel events at 120 per second, not awaited one
by one. Frames are counted in the page with requestAnimationFrame.

    python bench/editor.py [--quick]

Figures: open_500_ms (median over several opens of `/?workflow=NAME`'s code
path, from the request to the first painted frame with every node and wire in
the DOM; open_500_first_ms is the first, cold one), pan_fps and zoom_fps while
the whole graph is in view (medians of three runs); pan_100pct_fps and zoom_100pct_fps the same at
100% zoom, where the nodes in view are full DOM with their widgets. ComfyUI's frontend 1.27.10 measured on the same
kind of machine: 552 ms, 23 fps panning, 22 fps zooming. The last line printed
is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
COMFY = {
    "open_500_ms": 552,
    "pan_fps": 23,
    "zoom_fps": 22,
}  # ComfyUI frontend 1.27.10, quoted in the issue
INPUT_HZ = 120


def chain_workflow(n: int = 500, columns: int = 25) -> dict[str, Any]:
    """image.Solid then n-1 image.Blur nodes, each fed by the previous one, snaking through a grid."""
    nodes: dict[str, Any] = {}
    for i in range(n):
        row, col = divmod(i, columns)
        if row % 2:
            col = columns - 1 - col
        pos = [col * 280, row * 140]
        if i == 0:
            nodes["n0"] = {
                "type": "image.Solid",
                "type_version": 1,
                "inputs": {"width": 64, "height": 64, "color": "#336699", "batch": 1},
                "ui": {"pos": pos},
            }
        else:
            nodes[f"n{i}"] = {
                "type": "image.Blur",
                "type_version": 1,
                "inputs": {"image": {"from": f"n{i - 1}", "output": "image"}, "sigma": 1.0},
                "ui": {"pos": pos},
            }
    return {
        "format": "reelgraph.workflow",
        "version": 1,
        "name": f"Chain of {n}",
        "nodes": nodes,
        "params": {},
        "groups": [],
        "notes": [],
    }


def grid_workflow(n: int, columns: int = 25, pitch: tuple[int, int] = (360, 220)) -> dict[str, Any]:
    """The issue's protocol graph: the same chain, on a plain grid at 360 x 220 pitch."""
    doc = chain_workflow(n, columns)
    for i, node in enumerate(doc["nodes"].values()):
        row, col = divmod(i, columns)
        node["ui"]["pos"] = [col * pitch[0], row * pitch[1]]
    doc["name"] = f"Grid of {n}"
    doc["ui"] = {"viewport": {"x": 1, "y": 1, "zoom": 1}}  # saved at 100 %, top-left
    return doc


class Server:
    def __init__(self, data: Path):
        self.data = data
        port_file = data / "port"
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        exe = REPO / ".venv" / "bin" / "reelgraph"
        cmd = [
            str(exe) if exe.exists() else "reelgraph",
            "serve",
            "--port",
            "0",
            "--data",
            str(data / "data"),
            "--port-file",
            str(port_file),
        ]
        self.log = open(data / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start: " + (data / "server.log").read_text())
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{int(port_file.read_text())}"

    def put(self, name: str, doc: dict[str, Any]) -> None:
        req = urllib.request.Request(
            f"{self.url}/api/workflows/{name}",
            data=json.dumps(doc).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            r.read()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


FRAME_COUNTER = """() => { window.__frames = []; window.__counting = true;
  const tick = (t) => { if (!window.__counting) return; window.__frames.push(t); requestAnimationFrame(tick); };
  requestAnimationFrame(tick); }"""
FRAME_STOP = """() => { window.__counting = false; const f = window.__frames;
  return f.length > 1 ? (f.length - 1) * 1000 / (f[f.length - 1] - f[0]) : 0; }"""


async def measure(page: Any, action: Any) -> float:
    await page.evaluate(FRAME_COUNTER)
    await action()
    return float(await page.evaluate(FRAME_STOP))


async def pan(
    page: Any, seconds: float, box: dict[str, float], at: tuple[float, float] = (12, 12)
) -> None:
    """Drag on empty canvas in a loop, one move every 1/120 s, none awaited until the end."""
    x0, y0 = box["x"] + at[0], box["y"] + at[1]
    await page.mouse.move(x0, y0)
    await page.mouse.down()
    pending = []
    steps = int(seconds * INPUT_HZ)
    t0 = time.perf_counter()
    for i in range(steps):
        phase = (i % 240) / 240
        dx = 200 * (phase * 2 if phase < 0.5 else 2 - phase * 2)
        pending.append(asyncio.ensure_future(page.mouse.move(x0 + dx, y0 + dx * 0.5)))
        await asyncio.sleep(max(0.0, t0 + (i + 1) / INPUT_HZ - time.perf_counter()))
    await asyncio.gather(*pending)
    await page.mouse.up()


async def zoom(page: Any, seconds: float, box: dict[str, float]) -> None:
    """Wheel at the centre, one notch every 1/120 s: in for a while, then out again."""
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    pending = []
    steps = int(seconds * INPUT_HZ)
    t0 = time.perf_counter()
    for i in range(steps):
        direction = (
            -1 if (i // 4) % 2 == 0 else 1
        )  # 4 notches in (x1.8), 4 out: the graph stays about in view
        pending.append(asyncio.ensure_future(page.mouse.wheel(0, 100 * direction)))
        await asyncio.sleep(max(0.0, t0 + (i + 1) / INPUT_HZ - time.perf_counter()))
    await asyncio.gather(*pending)


FRAME_LOG = """() => { window.__frames = []; window.__counting = true;
  const tick = (t) => { if (!window.__counting) return; window.__frames.push(t); requestAnimationFrame(tick); };
  requestAnimationFrame(tick); }"""
FRAME_GAPS = """() => { window.__counting = false; const f = window.__frames, gaps = [];
  for (let i = 1; i < f.length; i++) gaps.push(f[i] - f[i - 1]);
  return { fps: f.length > 1 ? (f.length - 1) * 1000 / (f[f.length - 1] - f[0]) : 0, worst: gaps.length ? Math.max(...gaps) : 0 }; }"""


async def circles(page: Any, seconds: float, centre: tuple[float, float], r: float = 150) -> None:
    """The issue's pan: a real mouse drag in circles (r=150 px, 1.5 s a turn), moves at 120 Hz."""
    import math

    cx, cy = centre
    await page.mouse.move(cx + r, cy)
    await page.mouse.down()
    pending = []
    steps = int(seconds * INPUT_HZ)
    t0 = time.perf_counter()
    for i in range(steps):
        a = 2 * math.pi * (i + 1) / (1.5 * INPUT_HZ)
        pending.append(
            asyncio.ensure_future(page.mouse.move(cx + r * math.cos(a), cy + r * math.sin(a)))
        )
        await asyncio.sleep(max(0.0, t0 + (i + 1) / INPUT_HZ - time.perf_counter()))
    await asyncio.gather(*pending)
    await page.mouse.up()


async def wheel(
    page: Any,
    seconds: float,
    at: tuple[float, float],
    hz: int = 60,
    notches: int = 4,
    first: int = -1,
) -> None:
    """Wheel zoom at `at`, one notch every 1/hz s: `notches` one way, as many back, repeated.

    `first` is the first notches' wheel direction: -1 (wheel up) zooms in, +1 zooms out.
    """
    await page.mouse.move(*at)
    pending = []
    steps = int(seconds * hz)
    t0 = time.perf_counter()
    for i in range(steps):
        direction = first if (i // notches) % 2 == 0 else -first
        pending.append(asyncio.ensure_future(page.mouse.wheel(0, 100 * direction)))
        await asyncio.sleep(max(0.0, t0 + (i + 1) / hz - time.perf_counter()))
    await asyncio.gather(*pending)


async def protocol_100pct(page: Any, url: str, secs: float) -> dict[str, float]:
    """The issue's protocol: the 500-node grid opened at 100 % top-left; circles; wheel at 60 Hz."""
    await page.goto(f"{url}/?workflow=grid500")
    await page.wait_for_function("document.body.classList.contains('ready')", timeout=60000)
    opened = await page.evaluate("window.reelgraph.lastOpenMs")
    box = await page.locator("#canvas").bounding_box()
    # an empty spot: between columns 1 and 2, rows 0 and 1 of the grid (nodes are 220 x 88)
    centre = (box["x"] + 290 + 150, box["y"] + 160)
    # the drag starts where the circle starts (centre + r): that point must be empty canvas
    on_node = await page.evaluate(
        "([x, y]) => Boolean(document.elementFromPoint(x, y)?.closest('.node, .zoomctl, .minimap'))",
        [centre[0] + 150, centre[1]],
    )
    if on_node:
        raise RuntimeError("the protocol's pan would start on a node, not on an empty spot")
    await page.mouse.move(*centre)
    await page.wait_for_timeout(400)
    await page.evaluate(FRAME_LOG)
    await circles(page, secs, centre)
    pan = await page.evaluate(FRAME_GAPS)
    await page.evaluate("window.reelgraph.editor.setView({x: 0, y: 0, zoom: 1})")
    await page.wait_for_timeout(400)
    await page.evaluate(FRAME_LOG)
    await wheel(page, secs, centre)
    zoomed = await page.evaluate(FRAME_GAPS)
    return {"open_ms": opened, "pan_fps": pan["fps"], "zoom_fps": zoomed["fps"]}


async def lod_switch(page: Any, url: str, rounds: int) -> float:
    """Worst frame (ms) while wheel-zooming back and forth across the level-of-detail cut-off."""
    await page.goto(f"{url}/?workflow=grid300")
    await page.wait_for_function("document.body.classList.contains('ready')", timeout=60000)
    box = await page.locator("#canvas").bounding_box()
    at = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    # count the switches across the cut-off (wrapping the editor's, which keeps no count)
    await page.evaluate(
        """() => { const e = window.reelgraph.editor, setLod = e.setLod.bind(e);
        e.setLod = (lod) => { if (lod !== e.lod) e.lodCrossings++; setLod(lod); }; }"""
    )
    worst = []
    tries = 0
    while len(worst) < rounds:
        # just above the cut-off (40 %), settled; then two notches out (each x0.86: below it) and
        # two back in. A round counts only when the view really went below and back (wheel
        # events that land in one frame add up, so the first notch alone already crosses).
        await page.evaluate(
            f"""() => {{ const e = window.reelgraph.editor, z = 0.43;
            e.setView({{x: {at[0] - box["x"]} - 3000 * z, y: {at[1] - box["y"]} - 1400 * z, zoom: z}}); e.lodCrossings = 0; }}"""
        )
        await page.wait_for_timeout(700)
        await page.evaluate(FRAME_LOG)
        await wheel(page, 4 / 60, at, hz=60, notches=2, first=+1)
        await page.wait_for_timeout(600)
        gaps = await page.evaluate(FRAME_GAPS)
        tries += 1
        if await page.evaluate("window.reelgraph.editor.lodCrossings") >= 2:
            worst.append(gaps["worst"])
        elif tries > 3 * rounds:
            raise RuntimeError("the wheel zoom did not cross the level-of-detail cut-off")
    return statistics.median(worst)


async def app_open(page: Any, url: str, times: int) -> tuple[float, bool]:
    """Load of /app/explainer until its form is interactive (performance.now() at that moment)."""
    found = []
    for _ in range(times):
        resp = await page.goto(f"{url}/app/explainer")
        if resp is None or resp.status != 200:
            return -1.0, False
        await page.wait_for_function(
            "window.reelapp && window.reelapp.interactiveMs > 0", timeout=60000
        )
        found.append(float(await page.evaluate("window.reelapp.interactiveMs")))
    return statistics.median(found), True


async def run(quick: bool) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="reelgraph-bench-editor-"))
    server = Server(tmp)
    try:
        fitted = chain_workflow(500)
        fitted["ui"] = {"viewport": {"x": 20, "y": 90, "zoom": 0.18}}  # saved fitted to the view
        server.put("bench500", fitted)
        server.put("grid500", grid_workflow(500))
        server.put("grid300", grid_workflow(300, columns=20))
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1600, "height": 1000})
            await page.goto(f"{server.url}/?workflow=bench500")
            await page.wait_for_function("document.body.classList.contains('ready')", timeout=60000)
            first = await page.evaluate("window.reelgraph.lastOpenMs")
            nodes = await page.locator("[data-node-id]").count()
            links = await page.locator("[data-link]").count()
            opens = []
            for _ in range(3 if quick else 7):
                await page.evaluate("window.reelgraph.openByName('bench500', 'workflow')")
                opens.append(await page.evaluate("window.reelgraph.lastOpenMs"))
            await page.evaluate("window.reelgraph.editor.fit()")
            await page.wait_for_timeout(400)
            box = await page.locator("#canvas").bounding_box()
            # Each figure is the median of three runs: the machine is shared, one burst of
            # someone else's work should not decide it.
            secs = 1.0 if quick else 3.0
            pans, zooms = [], []
            for _ in range(3):
                await page.evaluate("window.reelgraph.editor.fit()")
                await page.wait_for_timeout(300)
                pans.append(await measure(page, lambda: pan(page, secs, box)))
                await page.evaluate("window.reelgraph.editor.fit()")
                await page.wait_for_timeout(300)
                zooms.append(await measure(page, lambda: zoom(page, secs, box)))
            pan_fps, zoom_fps = statistics.median(pans), statistics.median(zooms)
            # The same at 100%, where nodes are full DOM with widgets (about 40 of them in view).
            await page.evaluate("window.reelgraph.editor.setView({x: -1400, y: -600, zoom: 1})")
            await page.wait_for_timeout(600)
            # pressed between two columns of nodes (x 1650 in the world: a gap), so it pans
            pan_detail = await measure(page, lambda: pan(page, secs, box, at=(250, 12)))
            await page.wait_for_timeout(400)
            zoom_detail = await measure(page, lambda: zoom(page, secs, box))
            # the protocol at 100 % (medians of three runs)
            proto = [
                await protocol_100pct(page, server.url, 3.0 if not quick else 1.5) for _ in range(3)
            ]
            lod_ms = await lod_switch(page, server.url, 3 if quick else 5)
            app_ms, app_ok = await app_open(page, server.url, 3 if quick else 7)
            await browser.close()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    out = {
        "nodes": nodes,
        "links": links,
        "open_500_ms": round(statistics.median(opens), 1),
        "open_500_first_ms": round(first, 1),
        "pan_fps": round(pan_fps, 1),
        "zoom_fps": round(zoom_fps, 1),
        "pan_fps_runs": [round(f, 1) for f in pans],
        "zoom_fps_runs": [round(f, 1) for f in zooms],
        "pan_100pct_fps": round(pan_detail, 1),
        "zoom_100pct_fps": round(zoom_detail, 1),
        "open_500_100pct_ms": round(statistics.median(p["open_ms"] for p in proto), 1),
        "pan_100pct_protocol_fps": round(statistics.median(p["pan_fps"] for p in proto), 1),
        "zoom_100pct_protocol_fps": round(statistics.median(p["zoom_fps"] for p in proto), 1),
        "lod_switch_ms": round(lod_ms, 1),
        "app_open_ms": round(app_ms, 1) if app_ok else None,
        "vs_comfyui": {
            "open": round(COMFY["open_500_ms"] / max(1.0, statistics.median(opens)), 2),
            "pan": round(pan_fps / COMFY["pan_fps"], 2),
            "zoom": round(zoom_fps / COMFY["zoom_fps"], 2),
        },
        "goals_met": statistics.median(opens) <= 300 and pan_fps >= 50 and zoom_fps >= 50,
        # 1-minute load average before and after: the machine is shared, and frame times on
        # 2 cores stretch with whatever else runs (at load 8 a 17 ms frame takes 50-80 ms)
        "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    # issue 13's goals, on the issue's protocol
    out["goals_13_met"] = bool(
        out["open_500_ms"] <= 100
        and out["pan_100pct_protocol_fps"] >= 55
        and out["zoom_100pct_protocol_fps"] >= 55
        and out["lod_switch_ms"] <= 50
        and app_ok
        and app_ms <= 300
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="fewer opens, shorter interactions (under a minute)"
    )
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        print(json.dumps({"error": f"{CHROMIUM} not found: install Debian's chromium"}))
        return 1
    result = asyncio.run(run(args.quick))
    print(
        f"open 500 nodes: {result['open_500_ms']} ms (first {result['open_500_first_ms']} ms; ComfyUI {COMFY['open_500_ms']} ms)"
    )
    print(
        f"pan: {result['pan_fps']} fps, zoom: {result['zoom_fps']} fps (ComfyUI {COMFY['pan_fps']} / {COMFY['zoom_fps']}); "
        f"at 100%: pan {result['pan_100pct_fps']} fps, zoom {result['zoom_100pct_fps']} fps"
    )
    print(
        f"issue protocol at 100%: open {result['open_500_100pct_ms']} ms, pan {result['pan_100pct_protocol_fps']} fps, "
        f"zoom {result['zoom_100pct_protocol_fps']} fps (ComfyUI 43 / 28); LOD switch worst frame {result['lod_switch_ms']} ms; "
        f"app view open {result['app_open_ms']} ms"
    )
    print(
        f"load average (1 min) before / after: {result['load_avg'][0]} / {result['load_avg'][1]} on {os.cpu_count()} cores"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
