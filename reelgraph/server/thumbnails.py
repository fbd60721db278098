"""What a gallery thumbnail is made from, and the designed card when no frame can be.

A thumbnail is a frame of the workflow's own output, made once by a small run of the
workflow (queued behind the user's runs) and cached under the data folder:

- the workflow's first picture (a title card, else the cheapest image a param changes),
  as a tiny clip of one frame per scene (`thumbnail_workflow`);
- else its own cover image (`video.Cover`), the workflow run to that target;
- else the cover of the video it encodes: the sharpest, best-lit of a spread of frames,
  never a black first frame of a fade (`frame_workflow`).

A workflow that draws nothing without a GPU model (text-to-image, text-to-video) gets a
designed card instead (`draw_card`): its name, the models it needs and whether they are on
disk, and a storyboard drawn from its own script or prompt. So does a workflow whose
thumbnail run cannot start or failed, with the reason. Once such a workflow has a
finished run, the card gives way to a frame of that run's video.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

THUMB_SIZE = (480, 270)
CARD_SIZE = (960, 540)  # drawn at twice the thumbnail size: crisp text on a dense screen
THUMB_RUN_PREFIX = "thumbnail: "
COVER_TYPE = "video.Cover"
ENCODE_TYPE = "video.Encode"
FRAME_AT_SECONDS = 1.0  # a frame of someone's video: past the fade-in
FLAT_STDDEV = 3.0  # a picture whose channels vary less than this is one colour


@dataclass
class ThumbPlan:
    """Either a run (`workflow`, whose "targets" say what to run) or a designed card."""

    workflow: dict[str, Any] | None = None
    card: str | None = None  # the headline of the card ("Needs a model")
    lines: list[str] = field(default_factory=list)  # what the card says under it

    def to_marker(self) -> dict[str, Any]:
        return {"card": self.card, "lines": self.lines}


def _nodes(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in (doc.get("nodes") or {}).items() if isinstance(v, dict)}


def _ancestors(nodes: dict[str, dict[str, Any]], nid: str) -> set[str]:
    seen: set[str] = set()
    stack = [nid]
    while stack:
        for v in (nodes.get(stack.pop(), {}).get("inputs") or {}).values():
            if isinstance(v, dict) and isinstance(v.get("from"), str) and v["from"] not in seen:
                seen.add(v["from"])
                stack.append(v["from"])
    return seen


def gpu_nodes(doc: dict[str, Any], reg: Any) -> list[str]:
    """Nodes that need a GPU model (text-to-image and the like), not bypassed."""
    out = []
    for nid, n in _nodes(doc).items():
        nt = reg.get(n.get("type") or "")
        if nt is not None and nt.resource == "gpu" and not n.get("bypass"):
            out.append(nid)
    return out


def first_picture(doc: dict[str, Any], reg: Any) -> str | None:
    """The node whose picture stands for the workflow: a title card, else the cheapest image
    that a param changes, else the cheapest image (no GPU model anywhere upstream)."""
    nodes = _nodes(doc)
    params = doc.get("params") if isinstance(doc.get("params"), dict) else {}
    targets = {p.get("node") for p in params.values() if isinstance(p, dict)}
    # a picture the workflow saves is its output: it stands for it better than a part of it
    saved = {
        v["from"]
        for n in nodes.values()
        if (st := reg.get(n.get("type") or "")) is not None and st.side_effects
        for v in (n.get("inputs") or {}).values()
        if isinstance(v, dict) and isinstance(v.get("from"), str)
    }
    found = []
    for nid, n in nodes.items():
        nt = reg.get(n.get("type")) if n.get("type") else None
        if nt is None or n.get("bypass") or nt.resource == "gpu":
            continue
        if any(o.type in ("IMAGE", "list[IMAGE]") for o in nt.outputs):
            up = _ancestors(nodes, nid)
            heavy = any(
                (reg.get(nodes.get(a, {}).get("type") or "") or nt).resource == "gpu" for a in up
            )
            if not heavy:
                # a picture the params change comes first: a row's still then shows that row
                moved = bool(({nid} | up) & targets)
                found.append(("TitleCard" not in nt.id, nid not in saved, not moved, len(up), nid))
    return min(found)[-1] if found else None


def thumbnail_workflow(doc: dict[str, Any], reg: Any) -> dict[str, Any] | None:
    """The workflow plus a tiny clip of its first picture (one frame per scene, drawn small)
    whose first frame is written as a PNG; else the workflow to its cover, else to a cover
    of the video it encodes.

    A clip and a join rather than one PNG writer: the picture node often runs once per
    scene, and the join takes the list of them however many there are.
    """
    nid = first_picture(doc, reg)
    if nid is None:
        return cover_workflow(doc, reg) or frame_workflow(doc, reg)
    chain = ("video.ImageToClip", "video.Concat", COVER_TYPE)
    if any(reg.get(t) is None for t in chain):
        return None
    out = json.loads(json.dumps(doc))
    node = out["nodes"][nid]
    nt = reg.get(node["type"])
    names = {i.name for i in nt.inputs}
    inputs = node.setdefault("inputs", {})
    size: dict[str, Any] = dict(zip(("width", "height"), THUMB_SIZE, strict=True))
    if {"width", "height"} <= names:
        given = {i.name: inputs.get(i.name, i.default) for i in nt.inputs if i.name in size}
        if any(isinstance(v, dict) for v in given.values()):
            # the size comes from elsewhere (a format preset): the clip takes the same, so a
            # vertical card stays whole instead of being cropped to 16:9
            size = json.loads(json.dumps(given))
        elif all(isinstance(v, int | float) and v > 0 for v in given.values()):
            k = min(THUMB_SIZE[0] / given["width"], THUMB_SIZE[1] / given["height"])
            size = {n: max(2, int(v * k) // 2 * 2) for n, v in given.items()}  # its shape, small
            inputs.update(size)
        else:
            inputs.update(size)
    picture = next(o for o in nt.outputs if o.type in ("IMAGE", "list[IMAGE]")).name
    clip_in = {"image": {"from": nid, "output": picture}, "duration": 0.2, "tail": 0.0}
    clip_in.update(fps=5.0, zoom_start=1.0, zoom_end=1.0, **size)
    added = {
        "__thumb_clip__": ("video.ImageToClip", clip_in),
        "__thumb_join__": (
            "video.Concat",
            {"clips": {"from": "__thumb_clip__", "output": "video"}, "transition": "cut"},
        ),
        "__thumbnail__": (  # its first frame as a PNG: no encoder, no compression
            COVER_TYPE,
            {
                "video": {"from": "__thumb_join__", "output": "video"},
                "title": "",
                "at_seconds": 0.0,
                "filename": "thumbnail",
                "embed_workflow": False,
            },
        ),
    }
    _add(out, added, reg)
    out["targets"] = ["__thumbnail__"]
    return out


def _add(doc: dict[str, Any], added: dict[str, tuple[str, dict[str, Any]]], reg: Any) -> None:
    for key, (type_id, ins) in added.items():
        doc["nodes"][key] = {
            "type": type_id,
            "type_version": reg.get(type_id).version,
            "inputs": ins,
        }


def cover_workflow(doc: dict[str, Any], reg: Any) -> dict[str, Any] | None:
    """For a workflow that draws no picture of its own but makes a cover image (video.Cover:
    a chosen frame with the title): the workflow run to that cover. It makes the whole
    video's recipe but encodes nothing."""
    nodes = _nodes(doc)
    covers = [k for k, v in nodes.items() if v.get("type") == COVER_TYPE and not v.get("bypass")]
    if not covers or reg.get(COVER_TYPE) is None or gpu_nodes(doc, reg):
        return None
    out = json.loads(json.dumps(doc))
    out["targets"] = [covers[0]]
    return out


def frame_workflow(doc: dict[str, Any], reg: Any) -> dict[str, Any] | None:
    """For a workflow that draws only video and has no cover (a presenter): a cover of the
    video its encoder is given, at its best frame (sharp, lit: not the black start of a
    fade), with no title. Only that frame is rendered, not the video."""
    if reg.get(COVER_TYPE) is None or gpu_nodes(doc, reg):
        return None
    encoders = [
        v for v in _nodes(doc).values() if v.get("type") == ENCODE_TYPE and not v.get("bypass")
    ]
    source = next(
        (
            e["inputs"]["video"]
            for e in encoders
            if isinstance((e.get("inputs") or {}).get("video"), dict)
        ),
        None,
    )
    if source is None:
        return None
    out = json.loads(json.dumps(doc))
    cover_in = {"video": dict(source), "title": "", "at_seconds": -1.0, "max_width": 960}
    cover_in.update(filename="thumbnail", embed_workflow=False)
    _add(out, {"__thumb_cover__": (COVER_TYPE, cover_in)}, reg)
    out["targets"] = ["__thumb_cover__"]
    return out


def model_card(doc: dict[str, Any], reg: Any, missing: dict[str, str]) -> ThumbPlan:
    """The card of a workflow whose pictures need GPU models; `missing`: node id -> why its
    model cannot be loaded (empty when every model is on disk)."""
    lines = []
    for nid in gpu_nodes(doc, reg):
        node = _nodes(doc)[nid]
        model = (node.get("inputs") or {}).get("model")
        nt = reg.get(node["type"])
        what = nt.display_name.lower()
        name = model if isinstance(model, str) and model else "a model"
        lines.append(name if name != "a model" else f"a {what} model")
    lines = list(dict.fromkeys(lines))
    if missing:
        return ThumbPlan(card="Needs a model", lines=lines)
    return ThumbPlan(
        card="Uses a GPU model", lines=[*lines[:1], "a frame shows here after its first run"]
    )


# ---------------------------------------------------------------- the designed card
def _font(size: int, bold: bool, text: str = "") -> Any:
    from PIL import ImageFont

    if any(ord(c) > 0x24F for c in text):  # not Latin: a Noto face, when installed
        for d in ("/usr/share/fonts/truetype/noto", "/usr/share/fonts/opentype/noto"):
            path = Path(d) / ("NotoSans-Bold.ttf" if bold else "NotoSans-Regular.ttf")
            if path.is_file():
                return ImageFont.truetype(str(path), size)
    try:
        import font_roboto

        name = "Roboto-Bold.ttf" if bold else "Roboto-Regular.ttf"
        return ImageFont.truetype(str(Path(font_roboto.font_directory) / name), size)
    except (ImportError, OSError):
        return ImageFont.load_default(size)


def _wrap(draw: Any, text: str, font: Any, width: int, max_lines: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for w in words:
        trial = f"{line} {w}".strip()
        if draw.textlength(trial, font=font) <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = w
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        while lines[-1] and draw.textlength(lines[-1] + "…", font=font) > width:
            lines[-1] = lines[-1][:-1]
        lines[-1] = lines[-1].rstrip() + "…"
    return lines


def storyboard(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, what it shows) of up to three scenes, from the workflow's script or prompt:
    the longest text param default (or text input) there is."""
    texts = []
    for p in (doc.get("params") or {}).values():
        if isinstance(p, dict) and isinstance(p.get("default"), str):
            texts.append(p["default"])
    for n in _nodes(doc).values():
        v = (n.get("inputs") or {}).get("text")
        if isinstance(v, str):
            texts.append(v)
    script = max((t for t in texts if len(t.split()) >= 4), key=len, default="")
    scenes: list[tuple[str, str]] = []
    for block in re.split(r"(?m)^#+\s*", script):
        lines = [ln.strip() for ln in block.strip().splitlines() if ln.strip()]
        if not lines:
            continue
        visual = next((ln[7:].strip() for ln in lines if ln.lower().startswith("visual:")), "")
        title = lines[0] if script.lstrip().startswith("#") else ""
        body = visual or " ".join(
            ln for ln in lines[1 if title else 0 :] if ln != f"Visual: {visual}"
        )
        scenes.append((title, body))
    return scenes[:3]


def flat_colour(path: Path) -> str | None:
    """The colour of a picture that is one flat colour (as #rrggbb), else None."""
    from PIL import Image, ImageStat

    with Image.open(path) as im:
        rgb = im.convert("RGB")
    if max(ImageStat.Stat(rgb).stddev) >= FLAT_STDDEV:
        return None
    r, g, b = (round(v) for v in ImageStat.Stat(rgb).mean)
    return f"#{r:02x}{g:02x}{b:02x}"


def steps_line(doc: dict[str, Any], reg: Any) -> str:
    """The workflow's nodes by name, in document order: "Solid · Blend · Blur · Save PNG"."""
    names = []
    for n in _nodes(doc).values():
        nt = reg.get(n.get("type") or "")
        title = (n.get("ui") or {}).get("title") if isinstance(n.get("ui"), dict) else None
        names.append(title or (nt.display_name if nt else str(n.get("type"))))
    return " · ".join(dict.fromkeys(names))


def flat_card(doc: dict[str, Any], name: str, reg: Any, colour: str) -> bytes:
    """The card of a workflow whose output is one flat colour (a frame of it would read as
    a missing picture): that colour, filling the card, with what the workflow does."""
    plan = ThumbPlan(card=f"Its output: one colour, {colour}", lines=[steps_line(doc, reg)])
    rgb = tuple(int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return draw_card(doc, name, plan, base=rgb)


def draw_card(
    doc: dict[str, Any], name: str, plan: ThumbPlan, base: tuple[float, ...] | None = None
) -> bytes:
    """The designed card, as PNG bytes: the workflow's name on a colour of its own (or on
    `base`, an RGB in 0..1), what it needs, and its scenes (or prompt, or description)
    drawn as storyboard frames."""
    import numpy as np
    from PIL import Image, ImageDraw

    w, h = CARD_SIZE
    hue = int(hashlib.sha256(name.encode()).hexdigest()[:4], 16) / 0xFFFF
    top = np.array(colorsys.hsv_to_rgb(hue, 0.55, 0.32)) * 255
    bottom = np.array(colorsys.hsv_to_rgb((hue + 0.12) % 1, 0.65, 0.14)) * 255
    if base is not None:
        hue, sat, val = colorsys.rgb_to_hsv(*base)
        top = np.array(base) * 255
        bottom = np.array(colorsys.hsv_to_rgb(hue, sat, val * 0.45)) * 255
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = np.clip((yy / h) * 0.7 + (xx / w) * 0.3, 0, 1)[..., None]
    im = Image.fromarray((top * (1 - t) + bottom * t).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(im)
    pad = 48
    title = doc.get("name") if isinstance(doc.get("name"), str) and doc["name"] else name
    # the headline chip: what keeps a real frame from showing
    chip_font = _font(34, True)
    chip = (plan.card or "No preview").upper()
    cw = int(d.textlength(chip, font=chip_font)) + 32
    accent = (252, 176, 64) if plan.card == "Needs a model" else (120, 200, 255)
    d.rounded_rectangle((pad, pad, pad + cw, pad + 56), 28, fill=accent)
    d.text((pad + 16, pad + 28), chip, font=chip_font, fill=(20, 20, 28), anchor="lm")
    y = pad + 74
    tfont = _font(76, True, title)
    for line in _wrap(d, title, tfont, w - 2 * pad, 2):
        d.text((pad, y), line, font=tfont, fill=(255, 255, 255))
        y += 88
    small = _font(38, False)
    for line in plan.lines[:2]:
        for part in _wrap(d, line, small, w - 2 * pad, 1):
            d.text((pad, y + 4), part, font=small, fill=(230, 232, 240))
            y += 46
    # the storyboard: one frame per scene, with what the scene shows
    scenes = storyboard(doc) or [("", doc.get("description") or "")]
    gap = 20
    fy0 = max(y + 22, h - 250)
    fh = h - pad + 12 - fy0
    n = len(scenes)
    fw = (w - 2 * pad - gap * (n - 1)) // n
    sf, bf = _font(38, True), _font(34, False)
    for i, (stitle, body) in enumerate(scenes):
        x0 = pad + i * (fw + gap)
        frame = Image.new("RGB", (fw, fh))
        shade = np.linspace(0, 1, fh, dtype=np.float32)[:, None, None]
        c0 = np.array(colorsys.hsv_to_rgb((hue + 0.05 * i) % 1, 0.35, 0.85)) * 255
        c1 = np.array(colorsys.hsv_to_rgb((hue + 0.5 + 0.05 * i) % 1, 0.45, 0.45)) * 255
        frame = Image.fromarray(
            np.broadcast_to(c0 * (1 - shade) + c1 * shade, (fh, fw, 3)).astype(np.uint8)
        )
        mask = Image.new("L", (fw, fh), 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, fw - 1, fh - 1), 14, fill=255)
        im.paste(frame, (x0, fy0), mask)
        fd = ImageDraw.Draw(im)
        fd.rounded_rectangle(
            (x0, fy0, x0 + fw - 1, fy0 + fh - 1), 14, outline=(255, 255, 255), width=2
        )
        ty = fy0 + 14
        if stitle:
            for line in _wrap(fd, stitle, sf, fw - 28, 1):
                fd.text((x0 + 14, ty), line, font=sf, fill=(20, 20, 30))
                ty += 46
        for line in _wrap(fd, body, bf, fw - 28, max(1, (fy0 + fh - ty - 10) // 41)):
            fd.text((x0 + 14, ty), line, font=bf, fill=(35, 35, 50))
            ty += 41
    buf = io.BytesIO()
    im.save(buf, "PNG", optimize=True)
    return buf.getvalue()


# ---------------------------------------------------------------- frames of what was made
def made_picture(folder: Path) -> Path | None:
    """What a thumbnail run wrote: its PNG (or, from an older server, a tiny video)."""
    made = sorted(folder.rglob("*.png")) or sorted(folder.rglob("*.mp4"))
    return made[0] if made else None


def _video_frame(src: Path, at_seconds: float) -> Any:
    """The frame at `at_seconds` (or the last one, for a shorter video), as a PIL image."""
    import av

    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        picked = None
        for frame in container.decode(stream):
            picked = frame
            if frame.time is not None and frame.time >= at_seconds:
                break
        if picked is None:
            raise ValueError(f"{src.name} has no video frames")
        return picked.to_image()


def shrink(src: Path, dst: Path, at_seconds: float = 0.0) -> None:
    """A frame of `src` (a PNG, or the video's frame at `at_seconds`) as a small PNG, written
    whole (stage + rename)."""
    from PIL import Image

    from reelgraph.engine.workflow import atomic_write

    if src.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"):
        with Image.open(src) as picture:
            im = picture.convert("RGB")
    else:
        im = _video_frame(src, at_seconds).convert("RGB")
    im.thumbnail(THUMB_SIZE)
    buf = io.BytesIO()
    im.save(buf, "PNG", optimize=True)
    atomic_write(dst, buf.getvalue())
