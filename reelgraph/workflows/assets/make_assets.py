"""Generate the slideshow example's assets: four procedural landscape pictures and a
short music loop. Everything is drawn or synthesised here (no third-party media), so
the assets are as free as the code. Run from the repository root:

    .venv/bin/python reelgraph/workflows/assets/make_assets.py
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
W, H = 960, 540

SCENES = [  # sky top, sky bottom, sun, far hills, near hills
    ("#0b1d3a", "#f28c5b", "#ffd27a", "#4a3a5e", "#231b33"),
    ("#4f9fd9", "#cfe8f7", "#fff6c8", "#6f9f7a", "#2f5d3f"),
    ("#1b0f2e", "#7a3b69", "#f7c1d9", "#3b2850", "#160f24"),
    ("#f6c25b", "#fbe3b0", "#fff4d6", "#c4824a", "#6b3f22"),
]


def hex_rgb(s: str) -> tuple[int, int, int]:
    s = s.lstrip("#")
    return tuple(int(s[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


def ridge(rng: np.random.Generator, base: float, amp: float) -> list[tuple[float, float]]:
    xs = np.linspace(0, W, 48)
    phase = rng.uniform(0, 2 * math.pi, 3)
    ys = base + amp * (
        np.sin(xs / 170 + phase[0]) * 0.6
        + np.sin(xs / 61 + phase[1]) * 0.3
        + np.sin(xs / 23 + phase[2]) * 0.1
    )
    return [(0, H), *zip(xs.tolist(), ys.tolist(), strict=True), (W, H)]


def picture(k: int) -> Image.Image:
    top, bottom, sun, far, near = (hex_rgb(c) for c in SCENES[k])
    rng = np.random.default_rng(k)
    t = np.linspace(0, 1, H)[:, None, None]
    sky = np.array(top) * (1 - t) + np.array(bottom) * t
    img = Image.fromarray(np.broadcast_to(sky, (H, W, 3)).astype(np.uint8))
    glow = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    sx, sy, r = rng.uniform(0.25, 0.75) * W, rng.uniform(0.25, 0.45) * H, 46
    ImageDraw.Draw(glow).ellipse((sx - 3 * r, sy - 3 * r, sx + 3 * r, sy + 3 * r), fill=(*sun, 90))
    img = Image.alpha_composite(img.convert("RGBA"), glow.filter(ImageFilter.GaussianBlur(40)))
    d = ImageDraw.Draw(img)
    d.ellipse((sx - r, sy - r, sx + r, sy + r), fill=sun)
    d.polygon(ridge(rng, H * 0.62, 45), fill=far)
    d.polygon(ridge(rng, H * 0.78, 35), fill=near)
    return img.convert("RGB")


def music(seconds: float = 16.0, rate: int = 22050) -> np.ndarray:
    """A calm four-chord pad with a plucked arpeggio, looping seamlessly."""
    t = np.arange(int(seconds * rate)) / rate
    chords = [[57, 60, 64], [53, 57, 60], [48, 52, 55], [55, 59, 62]]  # Am F C G
    bar = seconds / len(chords)
    out = np.zeros_like(t)
    for i, chord in enumerate(chords):
        m = (t >= i * bar) & (t < (i + 1) * bar)
        tt = t[m] - i * bar
        env = np.minimum(1, tt / 0.6) * np.minimum(1, (bar - tt) / 0.6)
        for n in chord:
            f = 440 * 2 ** ((n - 69) / 12)
            out[m] += 0.08 * env * (np.sin(2 * np.pi * f * tt) + 0.3 * np.sin(4 * np.pi * f * tt))
        step = bar / 8
        for j in range(8):
            n = chord[j % 3] + 12
            f = 440 * 2 ** ((n - 69) / 12)
            a = tt >= j * step
            ts = tt - j * step
            out[m] += a * 0.06 * np.exp(-ts * 5) * np.sin(2 * np.pi * f * ts)
    return (out / np.abs(out).max() * 0.6).astype(np.float32)


def main() -> None:
    slides = HERE / "slides"
    slides.mkdir(exist_ok=True)
    for k in range(len(SCENES)):
        picture(k).save(slides / f"{k + 1:02d}.jpg", quality=88)
    write_m4a(HERE / "music.m4a", music(), 22050)


def write_m4a(path: Path, samples: np.ndarray, rate: int) -> None:
    """Mono float samples -> AAC in MP4 (about a tenth of the WAV's size, so it can ship)."""
    import av

    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=rate, layout="mono")
        stream.bit_rate = 64000
        frame = av.AudioFrame.from_ndarray(
            samples[None, :].astype(np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


if __name__ == "__main__":
    main()
