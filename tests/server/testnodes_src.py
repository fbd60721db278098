"""Custom nodes the server tests load from a temporary custom_nodes/ folder.

Copied there as `rgtest_nodes.py`; deterministic and cheap, with sleeps only
where a test needs a run to be in progress for a while (cancel, kill)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from reelgraph import IMAGE, INT, PATH, TEXT, Context, Float, Image, Int, node


@node("rgtest.Slow", category="test", outputs={"text": TEXT}, output=True)
def slow(
    ctx: Context,
    steps: Annotated[int, Int(1, 100000)] = 10,
    delay: Annotated[float, Float(0.0, 10.0)] = 0.01,
    label: str = "x",
) -> Any:
    """Loops `steps` times, sleeping `delay` seconds and reporting progress each time."""
    for i in range(steps):
        ctx.progress(i, steps)
        time.sleep(delay)
    ctx.progress(steps, steps)
    return f"{label}:{steps}"


@node("rgtest.SlowWrite", category="test", outputs={"path": PATH}, side_effects=True)
def slow_write(
    ctx: Context,
    steps: Annotated[int, Int(1, 100000)] = 10,
    delay: Annotated[float, Float(0.0, 10.0)] = 0.05,
    chunk: Annotated[int, Int(1, 1 << 20)] = 1000,
) -> Any:
    """Writes `steps` chunks straight into its output file (not atomically), sleeping between."""
    path = ctx.output_path("slow.bin")
    with open(path, "wb") as f:
        for i in range(steps):
            ctx.progress(i, steps)
            f.write(bytes([i % 256]) * chunk)
            f.flush()
            time.sleep(delay)
    return str(path)


@node("rgtest.Fail", category="test", outputs={"text": TEXT}, output=True)
def fail(message: str = "boom") -> Any:
    """Always raises."""
    raise RuntimeError(message)


@node("rgtest.Noise", category="test", outputs={"image": IMAGE})
def noise(
    size: Annotated[int, Int(1, 4096)] = 64, seed: Annotated[int, Int(0, 1 << 30)] = 0
) -> Any:
    """A random image."""
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, size, size, 3, generator=g)


@node("rgtest.ManyPreviews", category="test", outputs={"text": TEXT}, output=True)
def many_previews(ctx: Context, image: Image, count: Annotated[int, Int(1, 10000)] = 10) -> Any:
    """Sends `count` previews of its image (for the slow-client test)."""
    for i in range(count):
        ctx.preview(image, "image")
        ctx.progress(i + 1, count)
    return f"sent {count}"


@node("rgtest.Spin", category="test", outputs={"value": TEXT}, output=True)
def spin(
    ctx: Context,
    iterations: Annotated[int, Int(1, 1 << 30)] = 100,
    size: Annotated[int, Int(8, 4096)] = 256,
) -> Any:
    """CPU-heavy: `iterations` matrix products of `size` x `size`."""
    import torch

    g = torch.Generator().manual_seed(0)
    a = torch.rand(size, size, generator=g)
    acc = 0.0
    for i in range(iterations):
        a = torch.tanh(a @ a)
        acc += float(a[0, 0])
        if i % 10 == 0:
            ctx.progress(i, iterations)
    return f"{acc:.4f}"


@node("rgtest.VideoPreview", category="test", outputs={"frames": INT}, output=True)
def video_preview(ctx: Context, frames: Annotated[int, Int(1, 1000)] = 30) -> Any:
    """Previews a generated video (frame i is grey level i) and a second of audio."""
    import torch

    from reelgraph.media import AudioClip, TensorVideo

    levels = torch.arange(frames, dtype=torch.uint8).view(frames, 1, 1, 1) * 8
    ctx.preview(TensorVideo(levels.expand(frames, 40, 64, 3).contiguous(), fps=10.0), "video")
    ctx.preview(AudioClip(torch.zeros(2, 8000), 8000), "audio")
    return frames


@node("rgtest.WriteThenFail", category="test", outputs={"path": PATH}, side_effects=True)
def write_then_fail(ctx: Context, name: str = "broken.bin") -> Any:
    """Writes half a file straight to its final name in the output folder, then fails."""
    with open(ctx.output_path(name), "wb") as f:
        f.write(b"half")
    raise RuntimeError("disk full (simulated)")


# --- nodes that misbehave: the worker process must contain them ------------------


@node("rgtest.Segfault", category="test", outputs={"text": TEXT}, output=True)
def segfault(text: str = "x") -> Any:
    """Reads address 0: a native crash (SIGSEGV) of the process running it."""
    import ctypes

    return ctypes.string_at(0)


@node("rgtest.Exit", category="test", outputs={"text": TEXT}, output=True)
def hard_exit(code: Annotated[int, Int(0, 255)] = 3) -> Any:
    """Ends the process running it at once, with no clean-up (os._exit)."""
    import os

    os._exit(code)


@node("rgtest.Hang", category="test", outputs={"text": TEXT}, output=True)
def hang(seconds: Annotated[float, Float(0.0, 3600.0)] = 60.0, label: str = "h") -> Any:
    """Sleeps without ever looking at cancellation (a non-cooperative node)."""
    import os

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.05)
    return f"{label}:{os.getpid()}"


@node("rgtest.Allocate", category="test", outputs={"text": TEXT}, output=True)
def allocate(megabytes: Annotated[int, Int(1, 1 << 20)] = 100) -> Any:
    """Allocates and touches `megabytes` MiB, 64 MiB at a time."""
    chunks = [b"x" * (64 << 20) for _ in range(max(1, megabytes // 64))]
    return str(sum(len(c) for c in chunks))


@node("rgtest.WriteBytes", category="test", outputs={"path": PATH}, side_effects=True)
def write_bytes(
    ctx: Context, megabytes: Annotated[int, Int(1, 1 << 20)] = 1, delay: float = 0.05
) -> Any:
    """Writes `megabytes` MiB into its output folder, 1 MiB at a time, pausing between."""
    path = ctx.output_path("big.bin")
    with open(path, "wb") as f:
        for _ in range(megabytes):
            f.write(b"\0" * (1 << 20))
            f.flush()
            time.sleep(delay)
    return str(path)


@node("rgtest.Pid", category="test", outputs={"text": TEXT}, output=True)
def pid(label: str = "p") -> Any:
    """The id of the process running it (which process runs nodes)."""
    import os

    return f"{label}:{os.getpid()}"
