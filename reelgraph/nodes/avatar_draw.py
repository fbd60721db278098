"""The built-in illustrated presenter, drawn from vector shapes at any resolution.

The still parts are drawn once per video at 3x and scaled down (anti-aliased): the
backdrop with shoulders and neck, and a head sprite (hair, face, ears, nose, brows).
Per frame the head sprite is turned and shifted by the head motion and blended into
a region around the head; the eyes (gaze, blinks) and the mouth (from six mouth
parameters, see avatar_motion.PARAMS) are drawn as anti-aliased polygons in head
coordinates through the same transform. Head coordinates are in face widths with
the origin at the centre of the face, y down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .avatar_motion import P_OPEN, P_ROUND, P_TEETH, P_TONGUE, P_TUCK, P_WIDTH, MotionTrack

SS = 3  # supersampling of the still layers
SHIFT = 4  # fractional bits for cv2 polygon coordinates
MOUTH_Y = 0.335
MOUTH_HALF = 0.145  # resting half-width of the mouth, face widths
NECK_PIVOT = (0.0, 0.62)


@dataclass(frozen=True)
class Style:
    skin: tuple[int, int, int]
    skin_shade: tuple[int, int, int]
    hair: tuple[int, int, int]
    shirt: tuple[int, int, int]
    jacket: tuple[int, int, int]
    iris: tuple[int, int, int]
    lips: tuple[int, int, int]
    long_hair: bool
    backdrop: tuple[tuple[int, int, int], tuple[int, int, int]]


STYLES: dict[str, Style] = {
    "ava": Style(
        (241, 196, 165),
        (222, 164, 134),
        (92, 54, 36),
        (245, 245, 240),
        (44, 74, 122),
        (70, 110, 90),
        (196, 98, 98),
        True,
        ((58, 92, 140), (22, 34, 58)),
    ),
    "leo": Style(
        (198, 140, 100),
        (172, 114, 80),
        (34, 28, 26),
        (236, 240, 246),
        (60, 60, 66),
        (72, 50, 34),
        (160, 86, 76),
        False,
        ((96, 110, 90), (34, 42, 34)),
    ),
    "sam": Style(
        (255, 220, 190),
        (236, 186, 156),
        (214, 160, 72),
        (232, 88, 70),
        (240, 236, 228),
        (60, 100, 150),
        (210, 110, 110),
        False,
        ((240, 196, 120), (190, 110, 70)),
    ),
    "mia": Style(
        (132, 88, 62),
        (110, 70, 48),
        (24, 20, 22),
        (250, 214, 90),
        (40, 40, 48),
        (50, 34, 26),
        (140, 70, 70),
        True,
        ((120, 80, 140), (40, 26, 56)),
    ),
}
STYLE_NAMES = tuple(STYLES)

MOUTH_INSIDE = (74, 18, 30)  # the dark of the open mouth (tests find the mouth by this colour)
TEETH = (250, 248, 240)
TONGUE = (172, 66, 80)


def face_profile(n: int = 96) -> Any:
    """Outline of the face: a rounded top and a tapering jaw to a soft chin."""
    import numpy as np

    th = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x = 0.5 * np.sin(th)
    c = np.cos(th)
    y = np.where(c > 0, -0.62 * c, -0.70 * c)  # top above, chin below
    # the jaw narrows towards the chin
    lower = np.clip(-c, 0, 1)
    x = x * (1 - 0.22 * lower**1.6)
    return np.stack([x, y], axis=1)


def _poly(draw_pts: Any, scale: float, ox: float, oy: float) -> Any:
    import numpy as np

    return np.round((draw_pts * scale + np.array([ox, oy])) * (1 << SHIFT)).astype(np.int32)


class Presenter:
    """Renders the illustrated presenter for a MotionTrack at width x height."""

    def __init__(
        self,
        width: int,
        height: int,
        style: Style,
        track: MotionTrack,
        background: Any = None,
        offset_x: float = 0.0,
        zoom: float = 1.0,
    ):
        import numpy as np

        self.width, self.height, self.style, self.track = width, height, style, track
        self.u = 0.36 * height * zoom  # pixels per face width
        self.cx = width / 2 + offset_x * width
        self.cy = height * (0.5 - 0.08 * zoom)
        self.backdrop = self._draw_backdrop(background)
        self._draw_head_sprite()
        self.ring = np.linspace(0, 2 * np.pi, 40, endpoint=False)

    # ---- still layers -------------------------------------------------------------
    def _draw_backdrop(self, background: Any) -> Any:
        import cv2
        import numpy as np

        W, H, u, st = self.width, self.height, self.u, self.style
        if background is not None:
            img = background.copy()
        else:
            top, bottom = (np.array(c, np.float32) for c in st.backdrop)
            yy = np.linspace(0, 1, H, dtype=np.float32)[:, None, None]
            img = top * (1 - yy) + bottom * yy
            xx = (np.arange(W, dtype=np.float32) - self.cx) / (0.9 * H)
            y2 = (np.arange(H, dtype=np.float32) - self.cy) / (0.9 * H)
            glow = np.exp(-(xx[None, :] ** 2 + y2[:, None] ** 2) * 2.5)[..., None]
            img = np.clip(img + glow * 45, 0, 255).astype(np.uint8)
        big = (
            cv2.resize(img, (W * SS, H * SS), interpolation=cv2.INTER_NEAREST)
            if background is None
            else cv2.resize(img, (W * SS, H * SS), interpolation=cv2.INTER_LINEAR)
        )
        s = u * SS
        ox, oy = self.cx * SS, self.cy * SS
        # Shoulders and jacket.
        # neck base -> sloping trapezius -> round shoulder -> arm
        t = np.linspace(0, 1, 24)
        slope = np.stack([-0.2 - 0.55 * t, 0.86 + 0.12 * t**1.5], 1)
        th = np.linspace(-np.pi / 2, -np.pi, 20)
        shoulder = np.stack([-0.75 + 0.3 * np.cos(th), 1.28 + 0.3 * np.sin(th)], 1)
        left = np.concatenate([slope, shoulder, [[-1.08, 3.0]]])
        body = np.concatenate([left, (left * [-1, 1])[::-1]])
        cv2.fillPoly(big, [_poly(body, s, ox, oy)], st.jacket, cv2.LINE_AA, SHIFT)
        # Neck (behind the head, above the collar) with a shadow under the jaw.
        neck = np.array([[-0.15, 0.45], [0.15, 0.45], [0.17, 0.93], [-0.17, 0.93]])
        cv2.fillPoly(big, [_poly(neck, s, ox, oy)], st.skin_shade, cv2.LINE_AA, SHIFT)
        # Shirt: a V between the lapels.
        shirt = np.array([[-0.2, 0.86], [0.2, 0.86], [0.0, 1.32]])
        cv2.fillPoly(big, [_poly(shirt, s, ox, oy)], st.shirt, cv2.LINE_AA, SHIFT)
        collar_l = np.array([[-0.2, 0.86], [-0.02, 1.06], [-0.13, 1.1], [-0.27, 0.9]])
        for c in (collar_l, collar_l * [-1, 1]):
            cv2.fillPoly(
                big,
                [_poly(c, s, ox, oy)],
                tuple(min(255, v + 10) for v in st.shirt),
                cv2.LINE_AA,
                SHIFT,
            )
            cv2.polylines(
                big,
                [_poly(c, s, ox, oy)],
                True,
                tuple(int(v * 0.8) for v in st.shirt),
                max(1, int(s * 0.006)),
                cv2.LINE_AA,
                SHIFT,
            )
        lapel = np.array([[-0.27, 0.9], [-0.02, 1.32], [-0.1, 1.6], [-0.45, 1.05]])
        dark = tuple(int(v * 0.82) for v in st.jacket)
        for c in (lapel, lapel * [-1, 1]):
            cv2.fillPoly(big, [_poly(c, s, ox, oy)], dark, cv2.LINE_AA, SHIFT)
        if st.long_hair:  # hair falling behind the shoulders
            yy = np.linspace(-0.1, 0.8, 20)
            side = 0.56 + 0.06 * np.sin((yy + 0.1) / 0.9 * np.pi)
            tips = np.stack(
                [np.linspace(0.5, 0.2, 8), 0.8 + 0.08 * np.sin(np.linspace(0, np.pi, 8))], 1
            )
            right = np.concatenate([np.stack([side, yy], 1), tips])
            back = np.concatenate([right, (right * [-1, 1])[::-1]])
            cv2.fillPoly(
                big,
                [_poly(back, s, ox, oy)],
                tuple(int(v * 0.85) for v in st.hair),
                cv2.LINE_AA,
                SHIFT,
            )
        return cv2.resize(big, (W, H), interpolation=cv2.INTER_AREA)

    def _draw_head_sprite(self) -> None:
        import cv2
        import numpy as np

        u, st = self.u, self.style
        # The sprite covers head coordinates [-0.75, 0.75] x [-0.9, 0.85].
        self.box = (-0.75, -0.9, 0.75, 0.85)
        x0, y0, x1, y1 = self.box
        pw, ph = math.ceil((x1 - x0) * u) + 2, math.ceil((y1 - y0) * u) + 2
        s = u * SS
        ox, oy = -x0 * s, -y0 * s
        rgb = np.zeros((ph * SS, pw * SS, 3), np.uint8)
        alpha = np.zeros((ph * SS, pw * SS), np.uint8)

        def fill(pts: Any, color: Any) -> None:
            p = _poly(np.asarray(pts, np.float64), s, ox, oy)
            cv2.fillPoly(rgb, [p], color, cv2.LINE_AA, SHIFT)
            cv2.fillPoly(alpha, [p], 255, cv2.LINE_AA, SHIFT)

        def ellipse(c: Any, ax: Any, ang: float = 0.0, n: int = 48) -> Any:
            t = np.linspace(0, 2 * np.pi, n, endpoint=False)
            e = np.stack([ax[0] * np.cos(t), ax[1] * np.sin(t)], 1)
            r = math.radians(ang)
            rot = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
            return e @ rot.T + np.asarray(c)

        hair_dark = tuple(int(v * 0.85) for v in st.hair)
        # Hair behind the head.
        fill(ellipse((0, -0.18), (0.58, 0.56)), hair_dark)
        # Ears.
        for sx in (-1, 1):
            fill(ellipse((sx * 0.49, 0.04), (0.075, 0.12), sx * 10), st.skin_shade)
            fill(
                ellipse((sx * 0.5, 0.04), (0.04, 0.075), sx * 10),
                tuple(int(v * 0.9) for v in st.skin_shade),
            )
        # Face.
        face = face_profile()
        fill(face, st.skin)
        # Soft cheeks and a shade under the hairline: blurred, blended into the face.
        shade = np.zeros(alpha.shape, np.uint8)
        for sx in (-1, 1):
            p = _poly(ellipse((sx * 0.25, 0.2), (0.09, 0.055)), s, ox, oy)
            cv2.fillPoly(shade, [p], 255, cv2.LINE_AA, SHIFT)
        shade = cv2.GaussianBlur(shade, (0, 0), s * 0.04)
        blush = np.array([235, 120, 120], np.float32)
        a = (shade.astype(np.float32) / 255 * 0.28)[..., None]
        rgb[:] = (rgb * (1 - a) + blush * a).astype(np.uint8)
        # Nose: a soft shadow on one side and the tip.
        nose = np.array(
            [[0.03, 0.02], [0.055, 0.15], [0.06, 0.2], [0.02, 0.215], [0.035, 0.19], [0.03, 0.12]]
        )
        fill(nose, st.skin_shade)
        fill(ellipse((0.0, 0.205), (0.05, 0.022)), st.skin_shade)
        fill(ellipse((0.0, 0.196), (0.045, 0.018)), st.skin)
        # Eyebrows.
        t = np.linspace(0, 1, 16)
        for sx in (-1, 1):
            xs = sx * (0.09 + 0.18 * t)
            ys = -0.155 - 0.035 * np.sin(t * np.pi * 0.9) + 0.01 * t
            thick = 0.028 * (1 - 0.5 * t)
            brow = np.concatenate(
                [np.stack([xs, ys - thick], 1), np.stack([xs, ys + thick * 0.6], 1)[::-1]]
            )
            fill(brow, st.hair)
        # Hair on top, with a side parting and a fringe.
        th = np.linspace(math.pi * 1.04, math.pi * 1.96, 40)
        crown = np.stack([0.56 * np.cos(th), -0.1 + 0.6 * np.sin(th)], 1)
        fringe_x = np.linspace(0.54, -0.54, 30)
        fringe_y = (
            -0.3
            + 0.07 * np.cos((fringe_x + 0.18) * 4.2)
            - 0.12 * (np.abs(fringe_x) > 0.42) * (np.abs(fringe_x) - 0.42) / 0.12 * 0
            + 0.22 * np.clip(np.abs(fringe_x) - 0.38, 0, 1) / 0.16
        )
        fringe = np.stack([fringe_x, fringe_y], 1)
        sides = [[-0.56, -0.1], [-0.53, 0.08 if not st.long_hair else 0.35]]
        hair = np.concatenate(
            [sides[::-1], crown, [[0.56, -0.1], [0.53, 0.08 if not st.long_hair else 0.35]], fringe]
        )
        fill(hair, st.hair)
        # a highlight streak
        hl = np.stack(
            [np.linspace(-0.3, 0.1, 12), -0.5 - 0.06 * np.sin(np.linspace(0, np.pi, 12))], 1
        )
        cv2.polylines(
            rgb,
            [_poly(hl, s, ox, oy)],
            False,
            tuple(min(255, v + 40) for v in st.hair),
            max(1, int(s * 0.018)),
            cv2.LINE_AA,
            SHIFT,
        )

        rgb = cv2.resize(rgb, (pw, ph), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, (pw, ph), interpolation=cv2.INTER_AREA)
        self.sprite = np.dstack([rgb, alpha])
        self.sprite_origin = (x0, y0)

    # ---- per frame ------------------------------------------------------------------
    def transform(self, i: int) -> Any:
        """2x3 matrix: head coordinates -> frame pixels for frame i."""
        import numpy as np

        dx, dy, roll, nod = (float(v) for v in self.track.head[i])
        r = math.radians(roll)
        c, s_ = math.cos(r), math.sin(r)
        u = self.u
        sy = 1.0 - 0.01 * nod  # a nod foreshortens the face a little
        px, py = NECK_PIVOT
        # p = centre + shift + R @ (diag(u, u*sy) @ (q - pivot)) + pivot*u
        a = np.array([[c * u, -s_ * u * sy], [s_ * u, c * u * sy]])
        t = (
            np.array([self.cx + dx * u, self.cy + dy * u])
            + np.array([px * u, py * u])
            - a @ np.array([px, py])
        )
        return np.hstack([a, t[:, None]])

    def roi(self) -> tuple[int, int, int, int]:
        """Frame rectangle that can hold the moving head (x0, y0, x1, y1)."""
        u = self.u
        x0 = int(max(0, self.cx - 0.95 * u))
        x1 = int(min(self.width, self.cx + 0.95 * u + 1))
        y0 = int(max(0, self.cy - 1.05 * u))
        y1 = int(min(self.height, self.cy + 1.0 * u + 1))
        return x0, y0, x1, y1

    def render(self, start: int, stop: int) -> Any:
        import numpy as np
        import torch

        out = np.empty((stop - start, self.height, self.width, 3), np.uint8)
        rx0, ry0, rx1, ry1 = self.roi()
        for k, i in enumerate(range(start, stop)):
            out[k] = self.backdrop
            if rx1 > rx0 and ry1 > ry0:
                roi = np.ascontiguousarray(self.backdrop[ry0:ry1, rx0:rx1])
                self.draw_head(roi, i, rx0, ry0)
                out[k, ry0:ry1, rx0:rx1] = roi
        return torch.from_numpy(out)

    def draw_head(self, roi: Any, i: int, rx0: int, ry0: int) -> None:
        import cv2
        import numpy as np

        m = self.transform(i)
        m[:, 2] -= (rx0, ry0)
        # sprite pixels -> head coords -> roi pixels
        x0, y0 = self.sprite_origin
        inv_u = 1.0 / self.u
        sp = np.array([[inv_u, 0, x0 + 0.5 * inv_u], [0, inv_u, y0 + 0.5 * inv_u], [0, 0, 1]])
        ms = m @ sp
        ms[:, 2] -= 0.5 * (ms[:, 0] + ms[:, 1]) * 0  # pixel centres already handled above
        h, w = roi.shape[:2]
        warped = cv2.warpAffine(
            self.sprite,
            ms,
            (w, h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0, 0),
        )
        a = warped[..., 3:4].astype(np.uint16)
        roi[:] = (
            (warped[..., :3].astype(np.uint16) * a + roi.astype(np.uint16) * (255 - a) + 127) // 255
        ).astype(np.uint8)
        self._draw_eyes(roi, m, i)
        self._draw_mouth(roi, m, self.track.mouth[i])

    def _pts(self, m: Any, pts: Any) -> Any:
        import numpy as np

        p = np.asarray(pts, np.float64) @ m[:, :2].T + m[:, 2]
        return np.round(p * (1 << SHIFT)).astype(np.int32)

    def _draw_eyes(self, roi: Any, m: Any, i: int) -> None:
        import cv2
        import numpy as np

        st = self.style
        blink = float(self.track.blink[i])
        gx, gy = (float(v) for v in self.track.gaze[i])
        t = self.ring
        lw = max(1, round(self.u * 0.012))
        for sx in (-1, 1):
            cx, cy = sx * 0.19, -0.035
            ax, ay = 0.085, 0.05
            shape = np.stack(
                [cx + ax * np.cos(t), cy + ay * np.sin(t) * np.where(np.sin(t) < 0, 1.1, 0.85)], 1
            )
            if blink > 0.97:
                lid = np.stack(
                    [cx + ax * np.cos(t[:21]) * 1.02, cy + 0.012 + 0.01 * np.sin(t[:21])], 1
                )
                cv2.polylines(
                    roi, [self._pts(m, lid)], False, (40, 28, 30), lw + 1, cv2.LINE_AA, SHIFT
                )
                continue
            cv2.fillPoly(roi, [self._pts(m, shape)], (250, 250, 252), cv2.LINE_AA, SHIFT)
            ix, iy = cx + gx * 0.03, cy + gy * 0.015
            iris = np.stack([ix + 0.042 * np.cos(t), iy + 0.042 * np.sin(t)], 1)
            # keep the iris inside the eye: clip against the eye outline
            mask_pts = self._pts(m, shape)
            eye_mask = np.zeros(roi.shape[:2], np.uint8)
            cv2.fillPoly(eye_mask, [mask_pts], 255, cv2.LINE_8, SHIFT)
            x, y, w, h = cv2.boundingRect((mask_pts >> SHIFT).reshape(-1, 1, 2))
            x0, y0 = max(0, x - 2), max(0, y - 2)
            sub = np.ascontiguousarray(roi[y0 : y + h + 3, x0 : x + w + 3])
            keep = sub.copy()
            off = np.array([x0, y0]) * (1 << SHIFT)
            cv2.fillPoly(sub, [self._pts(m, iris) - off], st.iris, cv2.LINE_AA, SHIFT)
            pupil = np.stack([ix + 0.02 * np.cos(t), iy + 0.02 * np.sin(t)], 1)
            cv2.fillPoly(sub, [self._pts(m, pupil) - off], (20, 16, 18), cv2.LINE_AA, SHIFT)
            glint = np.stack([ix + 0.015 + 0.009 * np.cos(t), iy - 0.016 + 0.009 * np.sin(t)], 1)
            cv2.fillPoly(sub, [self._pts(m, glint) - off], (255, 255, 255), cv2.LINE_AA, SHIFT)
            em = eye_mask[y0 : y0 + sub.shape[0], x0 : x0 + sub.shape[1]].astype(bool)
            sub[~em] = keep[~em]
            roi[y0 : y0 + sub.shape[0], x0 : x0 + sub.shape[1]] = sub
            # upper lid: skin coming down with the blink, lash line on its edge
            top = cy - ay * 1.15
            edge_y = top + (2 * ay * 1.05) * max(blink, 0.12)
            xs = cx + ax * 1.08 * np.cos(np.linspace(np.pi, 2 * np.pi, 21))
            curve = edge_y - 0.012 * np.sin(np.linspace(0, np.pi, 21)) * (1 - blink)
            lid = np.concatenate(
                [np.stack([xs, np.full(21, top - 0.03)], 1), np.stack([xs, curve], 1)[::-1]]
            )
            cv2.fillPoly(roi, [self._pts(m, lid)], st.skin, cv2.LINE_AA, SHIFT)
            cv2.polylines(
                roi,
                [self._pts(m, np.stack([xs, curve], 1))],
                False,
                (40, 28, 30),
                lw + 1,
                cv2.LINE_AA,
                SHIFT,
            )

    def _draw_mouth(self, roi: Any, m: Any, p: Any) -> None:
        import cv2
        import numpy as np

        st = self.style
        open_, width, rnd, teeth, tuck, tongue = (
            float(p[k]) for k in (P_OPEN, P_WIDTH, P_ROUND, P_TEETH, P_TUCK, P_TONGUE)
        )
        a = MOUTH_HALF * width
        cy = MOUTH_Y + 0.02 * open_  # the jaw drops: the mouth's centre moves down a little
        gap = 0.16 * open_  # height of the opening
        n = 25
        x = np.linspace(-1, 1, n)
        # round lips make an oval opening, wide lips a flatter lens
        bulge = (1 - x**2) ** (0.5 + 0.6 * (1 - rnd))
        up_in = cy - gap * 0.3 * bulge
        lo_in = cy + gap * 0.7 * bulge
        t_up = 0.03 + 0.012 * rnd - 0.006 * (open_ < 0.03)
        t_lo = 0.04 + 0.015 * rnd - 0.008 * tuck
        bow = 0.012 * np.exp(-(((np.abs(x) - 0.25) / 0.2) ** 2)) - 0.008 * np.exp(
            -((x / 0.12) ** 2)
        )  # Cupid's bow
        up_out = up_in - t_up * (1 - 0.55 * x**2) - bow
        lo_out = lo_in + t_lo * (1 - 0.6 * x**2)
        corner = 0.008 * (1 - rnd)  # resting corners turn up slightly: a friendly face
        up_in = up_in - corner * x**4
        xs = x * a
        outer = np.concatenate([np.stack([xs, up_out], 1), np.stack([xs, lo_out], 1)[::-1]])
        lip_dark = tuple(int(v * 0.82) for v in st.lips)
        cv2.fillPoly(roi, [self._pts(m, outer)], st.lips, cv2.LINE_AA, SHIFT)
        # upper lip a shade darker than the lower
        upper = np.concatenate([np.stack([xs, up_out], 1), np.stack([xs, up_in], 1)[::-1]])
        cv2.fillPoly(roi, [self._pts(m, upper)], lip_dark, cv2.LINE_AA, SHIFT)
        if gap * 0.7 > 0.004:
            inner_a = 0.94 * a
            xi = x * inner_a
            ui = cy - gap * 0.3 * bulge
            li = cy + gap * 0.7 * bulge
            inner = np.concatenate([np.stack([xi, ui], 1), np.stack([xi, li], 1)[::-1]])
            cv2.fillPoly(roi, [self._pts(m, inner)], MOUTH_INSIDE, cv2.LINE_AA, SHIFT)
            if teeth > 0.05:
                th = min(gap, 0.03 * teeth + 0.01)
                te = np.minimum(li, ui + th)
                tp = np.concatenate(
                    [np.stack([xi * 0.8, ui], 1), np.stack([xi * 0.8, te], 1)[::-1]]
                )
                cv2.fillPoly(roi, [self._pts(m, tp)], TEETH, cv2.LINE_AA, SHIFT)
            if tongue > 0.05 and gap > 0.04:
                # a low mound resting behind the lower teeth line
                xt = np.linspace(-1, 1, n) * inner_a * 0.62
                lt = cy + gap * 0.7 * (1 - (xt / inner_a) ** 2) ** (0.5 + 0.6 * (1 - rnd)) - 0.003
                top = np.maximum(
                    ui.min() + 0.012,
                    lt - (0.012 + 0.03 * tongue * gap / 0.16) * (1 - (xt / (inner_a * 0.62)) ** 2),
                )
                tp = np.concatenate([np.stack([xt, top], 1), np.stack([xt, lt], 1)[::-1]])
                cv2.fillPoly(roi, [self._pts(m, tp)], TONGUE, cv2.LINE_AA, SHIFT)
        else:
            line = np.stack([xs * 0.97, cy - corner * x**4 + 0.002], 1)
            cv2.polylines(
                roi,
                [self._pts(m, line)],
                False,
                tuple(int(v * 0.55) for v in st.lips),
                max(1, round(self.u * 0.009)),
                cv2.LINE_AA,
                SHIFT,
            )
        if tuck > 0.3:
            # F/V: upper teeth rest on the lower lip
            tw = 0.55 * a
            tt = np.array(
                [
                    [-tw, cy - 0.004],
                    [tw, cy - 0.004],
                    [tw * 0.95, cy + 0.02 * tuck],
                    [-tw * 0.95, cy + 0.02 * tuck],
                ]
            )
            cv2.fillPoly(roi, [self._pts(m, tt)], TEETH, cv2.LINE_AA, SHIFT)
