"""A speaking photo portrait: face found offline, mouth warped per frame.

Face detection: OpenCV's Viola-Jones Haar cascade `haarcascade_frontalface_default.xml`
from Debian's `opencv-data` package. opencv-python-headless 5 ships neither the cascade
files nor `cv2.CascadeClassifier`, so the cascade is evaluated here with numpy
(integral images, variance-normalised Haar features, boosted stumps, early rejection,
OpenCV's grouping of neighbouring hits) -- the same model and the same arithmetic as
OpenCV 4's detector.

Animation: inside a region around the mouth, a smooth displacement field (cv2.remap)
drops the jaw and lower lip and lifts the upper lip by the mouth's openness, and
pulls the corners in or out by its width; the gap that opens between the lips is
filled with a shaded mouth inside and a band of upper teeth. Eyes (from the face box)
close for blinks under a lid of the skin colour above them; the whole picture moves a
little with the head motion.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from .avatar_motion import P_OPEN, P_ROUND, P_TEETH, P_WIDTH, MotionTrack

CASCADE = "haarcascade_frontalface_default.xml"
CASCADE_DIRS = (
    "/usr/share/opencv4/haarcascades",
    "/usr/share/opencv/haarcascades",
    "/usr/local/share/opencv4/haarcascades",
)


class MissingCascade(RuntimeError):
    pass


def cascade_path() -> Path:
    dirs = [os.environ["REELGRAPH_HAAR_DIR"]] if os.environ.get("REELGRAPH_HAAR_DIR") else []
    for d in (*dirs, *CASCADE_DIRS):
        p = Path(d) / CASCADE
        if p.is_file():
            return p
    raise MissingCascade(
        f"face detection needs OpenCV's Haar cascade {CASCADE}, which opencv-python-headless 5 no longer "
        f"ships: install the Debian package `opencv-data` (apt-get install opencv-data), or point "
        f"REELGRAPH_HAAR_DIR at a folder holding it"
    )


@lru_cache(maxsize=2)
def load_cascade(path: str) -> dict[str, Any]:
    """The cascade as arrays: per stage its threshold and stumps (feature, threshold,
    left, right); per feature up to three (x, y, w, h, weight) rectangles."""
    import xml.etree.ElementTree as ET

    import numpy as np

    root = ET.parse(path).getroot()
    c = root.find("cascade")
    if c is None or c.findtext("featureType", "").strip() != "HAAR":
        raise ValueError(f"{path} is not a HAAR cascade in OpenCV's format")
    win = (int(c.findtext("width")), int(c.findtext("height")))
    stages = []
    for st in c.find("stages"):
        thr = float(st.findtext("stageThreshold"))
        stumps = []
        for wc in st.find("weakClassifiers"):
            nodes = wc.findtext("internalNodes").split()
            leaves = wc.findtext("leafValues").split()
            stumps.append((int(nodes[2]), float(nodes[3]), float(leaves[0]), float(leaves[1])))
        stages.append((thr, np.array(stumps)))
    feats = []
    for f in c.find("features"):
        if (f.findtext("tilted") or "0").strip() not in ("0", ""):
            raise ValueError("tilted Haar features are not supported")
        rects = [[float(v) for v in r.text.split()] for r in f.find("rects")]
        rects += [[0, 0, 0, 0, 0.0]] * (3 - len(rects))
        feats.append(rects)
    return {"win": win, "stages": stages, "features": np.array(feats)}


def _detect_scale(gray: Any, cas: dict[str, Any], step: int) -> list[tuple[int, int]]:
    """Window positions (x, y) in `gray` that pass every stage."""
    import numpy as np

    ww, wh = cas["win"]
    H, W = gray.shape
    if ww > W or wh > H:
        return []
    g = gray.astype(np.float64)
    ii = np.zeros((H + 1, W + 1))
    ii[1:, 1:] = g.cumsum(0).cumsum(1)
    sq = np.zeros((H + 1, W + 1))
    sq[1:, 1:] = (g * g).cumsum(0).cumsum(1)
    ys, xs = np.mgrid[0 : H - wh + 1 : step, 0 : W - ww + 1 : step]
    xs, ys = xs.ravel(), ys.ravel()

    def rsum(t: Any, x: Any, y: Any, rx: float, ry: float, rw: float, rh: float) -> Any:
        x0, y0 = x + int(rx), y + int(ry)
        x1, y1 = x0 + int(rw), y0 + int(rh)
        return t[y1, x1] - t[y0, x1] - t[y1, x0] + t[y0, x0]

    area = (ww - 2) * (wh - 2)
    s = rsum(ii, xs, ys, 1, 1, ww - 2, wh - 2)
    q = rsum(sq, xs, ys, 1, 1, ww - 2, wh - 2)
    nf = area * q - s * s
    ok = nf > 0
    norm = np.where(ok, 1.0 / np.sqrt(np.where(ok, nf, 1.0)), 1.0)
    keep = ok & (area * norm < 0.1)  # flat windows cannot hold a face
    xs, ys, norm = xs[keep], ys[keep], norm[keep]
    feats = cas["features"]
    for thr, stumps in cas["stages"]:
        if xs.size == 0:
            return []
        total = np.zeros(xs.size)
        for fi, t, left, right in stumps:
            val = np.zeros(xs.size)
            for rx, ry, rw, rh, wt in feats[int(fi)]:
                if wt:
                    val += wt * rsum(ii, xs, ys, rx, ry, rw, rh)
            total += np.where(val * norm < t, left, right)
        passed = total >= thr
        xs, ys, norm = xs[passed], ys[passed], norm[passed]
    return list(zip(xs.tolist(), ys.tolist(), strict=True))


def group_rectangles(
    rects: list[tuple[float, float, float, float]], min_neighbors: int, eps: float = 0.2
) -> list[tuple[float, float, float, float, int]]:
    """OpenCV's groupRectangles: cluster similar hits, keep clusters with more than
    `min_neighbors` members, average them."""
    n = len(rects)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            a, b = rects[i], rects[j]
            d = eps * (min(a[2], b[2]) + min(a[3], b[3])) * 0.5
            if (
                abs(a[0] - b[0]) <= d
                and abs(a[1] - b[1]) <= d
                and abs(a[0] + a[2] - b[0] - b[2]) <= d
                and abs(a[1] + a[3] - b[1] - b[3]) <= d
            ):
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    out = []
    for members in groups.values():
        if len(members) > min_neighbors:
            k = len(members)
            avg = [sum(rects[m][c] for m in members) / k for c in range(4)]
            out.append((*avg, k))
    return out


def detect_faces(
    rgb: Any, min_size: int = 40, min_neighbors: int = 3
) -> list[tuple[float, float, float, float, int]]:
    """Frontal faces in an RGB uint8 image: (x, y, w, h, hits), largest first."""
    import cv2

    cas = load_cascade(str(cascade_path()))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    H, W = gray.shape
    pre = min(1.0, 400 / max(H, W))  # detect on a small copy: faces are big in portraits
    if pre < 1.0:
        gray = cv2.resize(gray, (round(W * pre), round(H * pre)), interpolation=cv2.INTER_AREA)
    gray = cv2.equalizeHist(gray)
    ww, wh = cas["win"]
    hits: list[tuple[float, float, float, float]] = []
    f = max(1.0, min_size * pre / ww)
    while gray.shape[1] / f >= ww and gray.shape[0] / f >= wh:
        small = cv2.resize(
            gray,
            (round(gray.shape[1] / f), round(gray.shape[0] / f)),
            interpolation=cv2.INTER_LINEAR,
        )
        step = 1 if f > 2 else 2
        for x, y in _detect_scale(small, cas, step):
            hits.append((x * f / pre, y * f / pre, ww * f / pre, wh * f / pre))
        f *= 1.1
    faces = group_rectangles(hits, min_neighbors)
    return sorted(faces, key=lambda r: -r[2] * r[3])


def find_mouth(
    rgb: Any,
) -> tuple[tuple[float, float, float, float], tuple[float, float, float]] | None:
    """(face box, (mouth centre x, centre y, width)) of the largest face, or None.
    The mouth sits at ~77 % of a Viola-Jones face box; its height is refined to the
    darkest row there (the line between the lips)."""
    import numpy as np

    faces = detect_faces(rgb)
    if not faces:
        return None
    x, y, w, h, _ = faces[0]
    mx, my, mw = x + w / 2, y + 0.77 * h, 0.42 * w
    gray = rgb.astype(np.float32).mean(axis=2)
    y0, y1 = int(y + 0.68 * h), int(min(rgb.shape[0] - 1, y + 0.88 * h))
    x0, x1 = int(mx - 0.18 * w), int(mx + 0.18 * w)
    if y1 - y0 > 3 and x1 - x0 > 3:
        rows = gray[y0:y1, x0:x1].mean(axis=1)
        rows = np.convolve(rows, np.ones(3) / 3, mode="same")
        my = y0 + float(np.argmin(rows[1:-1])) + 1
    return (x, y, w, h), (mx, my, mw)


class PhotoRig:
    """Per-frame renderer of a portrait: mouth warp, teeth, blinks, head motion."""

    def __init__(
        self, image: Any, mouth: tuple[float, float, float], face: Any, track: MotionTrack
    ):
        import numpy as np

        self.image = image
        self.track = track
        self.height, self.width = image.shape[:2]
        self.mx, self.my, self.mw = mouth
        if face is None:  # estimate the face from the mouth
            fw = self.mw / 0.42
            face = (self.mx - fw / 2, self.my - 0.77 * fw, fw, fw)
        self.face = face
        a = self.mw / 2
        self.a = a
        # the region the mouth warp may touch
        self.rx0 = int(max(0, self.mx - 2.0 * a))
        self.rx1 = int(min(self.width, self.mx + 2.0 * a))
        self.ry0 = int(max(0, self.my - 1.0 * a))
        self.ry1 = int(min(self.height, self.my + 2.6 * a))
        yy, xx = np.mgrid[self.ry0 : self.ry1, self.rx0 : self.rx1].astype(np.float32)
        self.xx, self.yy = xx, yy
        dx = (xx - self.mx) / a
        self.fall_x = (
            np.clip(1 - (np.abs(dx) / 2.0) ** 2, 0, 1) ** 2
        )  # fades out 2 half-widths away
        below = (yy - self.my) / a
        chin = 1.9  # the jaw moves as one down to about the chin
        self.jaw_v = np.where(
            below > 0, np.clip(1 - np.clip(below - chin, 0, None) / 0.7, 0, 1), 0.0
        )
        self.up_v = np.where(below <= 0, np.clip(1 + below / 0.9, 0, 1), 0.0)
        self.lip_v = np.exp(-((below / 0.8) ** 2))
        # eyes from the face box
        fx, fy, fw, fh = face
        self.eye_w, self.eye_h = 0.2 * fw, 0.07 * fw
        gray = image.astype(np.float32).mean(axis=2)
        self.eyes = []
        for ex in (fx + 0.3 * fw, fx + 0.7 * fw):
            # the eye is the row with the most contrast across it (white, iris, white) in the
            # upper middle of the face box; brows above are dark but even
            y0, y1 = int(max(0, fy + 0.28 * fh)), int(min(self.height, fy + 0.55 * fh))
            x0, x1 = int(max(0, ex - 0.1 * fw)), int(min(self.width, ex + 0.1 * fw))
            ey = fy + 0.4 * fh
            if y1 - y0 > 4 and x1 - x0 > 4:
                rows = np.convolve(gray[y0:y1, x0:x1].std(axis=1), np.ones(3) / 3, mode="same")
                ey = y0 + float(np.argmax(rows[1:-1])) + 1
            self.eyes.append((ex, ey))
        # colour of the inside of the mouth: a darkened lip colour
        lip = image[
            int(self.my + 0.15 * a) : int(self.my + 0.35 * a) + 1,
            int(self.mx - 0.4 * a) : int(self.mx + 0.4 * a) + 1,
        ].reshape(-1, 3)
        base = lip.mean(axis=0) if lip.size else np.array([150, 70, 70])
        self.inside = np.clip(base * np.array([0.35, 0.18, 0.2]), 0, 255)
        self.lids = []
        for ex, ey in self.eyes:
            patch = image[
                int(max(0, ey - 1.4 * self.eye_h)) : int(max(1, ey - 0.9 * self.eye_h)),
                int(ex - 0.3 * self.eye_w) : int(ex + 0.3 * self.eye_w),
            ].reshape(-1, 3)
            self.lids.append(np.median(patch, axis=0) if patch.size else np.array([200, 160, 140]))

    def render(self, start: int, stop: int) -> Any:
        import numpy as np
        import torch

        out = np.empty((stop - start, self.height, self.width, 3), np.uint8)
        for k, i in enumerate(range(start, stop)):
            frame = self.image.copy()
            self._mouth(frame, self.track.mouth[i])
            self._blink(frame, float(self.track.blink[i]))
            self._head(frame, out[k], i)
        return torch.from_numpy(out)

    def _mouth(self, frame: Any, p: Any) -> None:
        import cv2
        import numpy as np

        open_, width, rnd, teeth = (float(p[k]) for k in (P_OPEN, P_WIDTH, P_ROUND, P_TEETH))
        if open_ < 0.01 and abs(width - 1) < 0.02:
            return
        a = self.a
        gap = 0.55 * a * open_  # pixels the lips part at the middle
        w = 1.0 + 0.6 * (width - 1.0)  # photos take a gentler width change
        dx = (self.xx - self.mx) / a
        bulge = np.clip(1 - (dx / (w * 0.8)) ** 2, 0, 1) ** (0.5 + 0.5 * (1 - rnd))
        jaw = 0.55 * gap * self.fall_x * self.jaw_v
        low_lip = 0.45 * gap * bulge * self.jaw_v * self.lip_v
        up_lip = 0.22 * gap * bulge * self.up_v * self.lip_v
        # inverse map: where each output pixel comes from
        src_y = self.yy - jaw - low_lip + up_lip
        squeeze = 1 + (1 / w - 1) * self.lip_v * np.clip(1 - (np.abs(dx) / 2.0) ** 2, 0, 1)
        src_x = self.mx + (self.xx - self.mx) * squeeze
        roi = frame[self.ry0 : self.ry1, self.rx0 : self.rx1]
        warped = cv2.remap(
            self.image,
            src_x.astype(np.float32),
            src_y.astype(np.float32),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        if gap > 0.8:
            # the opening between the lips: from the lifted upper lip down to the dropped lower lip
            col = (self.xx[0] - self.mx) / a
            b = np.clip(1 - (col / (w * 0.8)) ** 2, 0, 1) ** (0.5 + 0.5 * (1 - rnd))
            y_top = self.my - 0.22 * gap * b
            y_bot = self.my + (0.55 * gap + 0.45 * gap * b) * b
            yy = self.yy
            inside = (yy > y_top[None, :]) & (yy < y_bot[None, :]) & (b[None, :] > 0)
            mask = inside.astype(np.float32)
            mask = cv2.GaussianBlur(mask, (0, 0), max(0.6, a * 0.03))
            depth = np.clip((yy - y_top[None, :]) / np.maximum(1, (y_bot - y_top)[None, :]), 0, 1)
            shade = (self.inside * (0.7 + 0.5 * depth[..., None])).astype(np.float32)
            th = min(0.18 * a, gap * 0.45) * teeth
            tooth = (yy < (y_top[None, :] + th)) & (np.abs(col[None, :]) < 0.62 * w)
            shade[tooth] = np.array([232, 226, 214], np.float32)
            m3 = mask[..., None]
            warped = (warped.astype(np.float32) * (1 - m3) + shade * m3).astype(np.uint8)
        roi[:] = warped

    def _blink(self, frame: Any, blink: float) -> None:
        import cv2
        import numpy as np

        if blink < 0.1:
            return
        for (ex, ey), lid in zip(self.eyes, self.lids, strict=True):
            w, h = self.eye_w, self.eye_h
            x0, x1 = int(ex - w / 2), int(ex + w / 2)
            y0, y1 = int(ey - h), int(ey + h)
            if x0 < 0 or y0 < 0 or x1 > self.width or y1 > self.height:
                continue
            sub = frame[y0:y1, x0:x1].astype(np.float32)
            yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
            edge = ey - h * 0.7 + 1.4 * h * blink
            ell = ((xx - ex) / (w / 2)) ** 2 + ((yy - ey) / h) ** 2 < 1
            cover = (ell & (yy < edge)).astype(np.float32)
            cover = cv2.GaussianBlur(cover, (0, 0), max(0.6, h * 0.12))[..., None]
            line = (
                np.exp(-(((yy - edge) / max(0.8, h * 0.08)) ** 2))[..., None] * ell[..., None] * 0.5
            )
            sub = sub * (1 - cover) + lid * cover
            sub = sub * (1 - line) + np.array([40, 28, 26]) * line
            frame[y0:y1, x0:x1] = sub.astype(np.uint8)

    def _head(self, frame: Any, out: Any, i: int) -> None:
        import cv2
        import numpy as np

        dx, dy, roll, _nod = (float(v) for v in self.track.head[i])
        if dx == 0 and dy == 0 and roll == 0:  # head_motion 0: the picture stays put
            out[:] = frame
            return
        fw = self.face[2]
        cx, cy = self.mx, self.my + 1.5 * self.a  # turn about the chin
        m = cv2.getRotationMatrix2D((cx, cy), -roll * 0.5, 1.02)  # zoom 2 % so no border shows
        m[:, 2] += np.array([dx * fw * 0.5, dy * fw * 0.5])
        cv2.warpAffine(
            frame,
            m,
            (self.width, self.height),
            dst=out,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
