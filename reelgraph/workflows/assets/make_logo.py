"""Draw the ad example's logo: an original mark for the fictional brand "Brightleaf"
(a leaf in a rounded badge and the word mark), on a transparent background. Drawn
here from shapes and the bundled Roboto font, so the asset is as free as the code.
Run from the repository root:

    .venv/bin/python reelgraph/workflows/assets/make_logo.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
SCALE = 4  # drawn large and scaled down: smooth edges without an anti-aliasing pass


def main() -> None:
    import font_roboto

    w, h = 520 * SCALE, 140 * SCALE
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    s = h  # badge: a rounded square as tall as the logo
    d.rounded_rectangle((0, 0, s - 1, s - 1), radius=s // 4, fill=(252, 163, 17, 255))
    # the leaf: a pointed oval (two circular arcs) tilted 45 degrees, and its vein
    n, half, bulge = 48, s * 0.34, s * 0.17
    pts = []
    for side in (1, -1):
        for i in range(n + 1):
            t = -1 + 2 * i / n
            u, v = t * half * side, side * bulge * (1 - t * t)
            pts.append(((u - v) * 0.7071 + s / 2, (u + v) * 0.7071 + s / 2))
    d.polygon(pts, fill="white")
    a, b = half * 0.62, half * 0.62
    d.line((s / 2 - a, s / 2 + b, s / 2 + a, s / 2 - b), fill=(252, 163, 17), width=s // 30)
    d.line(
        (s / 2 + a, s / 2 - b, s / 2 + half * 0.85, s / 2 - half * 0.85),
        fill="white",
        width=s // 30,
    )
    font = ImageFont.truetype(
        str(Path(font_roboto.font_directory) / "Roboto-Black.ttf"), int(h * 0.5)
    )
    d.text((s + h * 0.18, h * 0.5), "Brightleaf", font=font, fill="white", anchor="lm")
    img = img.resize((w // SCALE, h // SCALE), Image.LANCZOS)
    img.save(HERE / "logo.png", optimize=True)


if __name__ == "__main__":
    main()
