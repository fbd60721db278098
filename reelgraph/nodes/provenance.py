"""Provenance: what made a video (generator, models, seeds, an AI-generated disclosure),
written into the container by the Encode node, and a visible AI-generated label."""

from __future__ import annotations

import datetime as _dt
from typing import Annotated, Any

from reelgraph import VIDEO, Combo, Float, NodeInputError, Video, node, socket

from .formats import SAFE_AREA
from .video import POSITIONS, overlay_rgba

DISCLOSURE = (
    "AI-generated: this video was made by software (reelgraph) from a script; voices are synthetic."
)
MODEL_INPUTS = ("voice", "model", "checkpoint", "lora", "vae")


def embedded_workflow(
    workflow: dict[str, Any] | None, params: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The workflow as an output embeds it: every param value of the run becomes its
    param's default. Node inputs already hold the values of params that target them;
    a param no input targets (read by text.Template) lives only in the run's param
    values, so without this an output would re-run with the workflow's defaults."""
    if workflow is None or not params:
        return workflow
    doc = dict(workflow)
    declared = doc.get("params")
    if not isinstance(declared, dict):
        return doc
    merged = {}
    for name, p in declared.items():
        if isinstance(p, dict) and name in params:
            p = {**p, "default": params[name]}
        merged[name] = p
    doc["params"] = merged
    return doc


def provenance_record(
    workflow: dict[str, Any] | None, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Generator, version, disclosure, node types, models, seeds and param values of a
    workflow document."""
    import reelgraph

    nodes = (workflow or {}).get("nodes", {}) or {}
    types = sorted({str(n.get("type", "")) for n in nodes.values() if isinstance(n, dict)})
    models: set[str] = set()
    seeds: dict[str, Any] = {}
    for nid, n in nodes.items():
        if not isinstance(n, dict):
            continue
        inputs = n.get("inputs", {}) or {}
        if n.get("type") == "tts.Speak":
            voice = inputs.get("voice", "en_US-joe-medium")
            if voice == "auto":  # chosen per scene language at run time (Piper or espeak-ng)
                models.add("tts:auto")
            elif isinstance(voice, str):
                models.add(voice if voice.startswith(("coqui:", "espeak:")) else f"piper:{voice}")
        for k, v in inputs.items():
            if k in MODEL_INPUTS and isinstance(v, str) and n.get("type") != "tts.Speak":
                models.add(v)
            if "seed" in k and isinstance(v, int):
                seeds[f"{nid}.{k}"] = v
    return {
        "generator": "reelgraph",
        "version": reelgraph.__version__,
        "ai_generated": True,
        "disclosure": DISCLOSURE,
        "workflow_name": (workflow or {}).get("name", ""),
        "node_types": types,
        "models": sorted(models),
        "seeds": seeds,
        "params": dict(params or {}),
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@node("provenance.AILabel", category="video/provenance", outputs={"video": VIDEO})
def ai_label(
    video: Video,
    text: str = "AI-generated",
    position: Annotated[str, Combo(POSITIONS)] = "top_right",
    size: Annotated[float, Float(0.01, 0.1, 0.005)] = 0.028,
    opacity: Annotated[float, Float(0.1, 1.0, 0.05)] = 0.85,
    safe_area: socket(SAFE_AREA) = None,
) -> Any:
    """A small, always-visible label (default "AI-generated") in a corner of every frame,
    inside the safe area (linked, or on vertical video the default one: never under
    the platform's top bar, description or like/comment column)."""
    from .formats import place_in, text_area
    from .typography import load_font, render_text_rgba

    if not text.strip():
        raise NodeInputError("text", "the label text is empty")
    px = max(8, round(video.height * size))
    font = load_font("medium", px)
    rgba = render_text_rgba(
        [text.strip()], font, (255, 255, 255), box=(0, 0, 0, 140), pad=round(px * 0.45)
    )
    margin = round(video.height * 0.03)
    area = text_area(safe_area, video.width, video.height)
    x, y = place_in(position, area, video.width, video.height, rgba.shape[1], rgba.shape[0], margin)
    return overlay_rgba(video, rgba, x, y, opacity, 0.0, 0.0)
