"""Fixtures for the media tests: one explainer render shared by every test that needs it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPLAINER = ROOT / "reelgraph" / "workflows" / "explainer.json"
MEDIA_PACKS = (
    "text",
    "slides",
    "video",
    "audio",
    "tts",
    "subtitles",
    "encode",
    "provenance",
    "image_ops",
    "typography",
)
MEDIA_FILES = (*(f"nodes/{m}.py" for m in MEDIA_PACKS), "engine/media/")


@dataclass
class ExplainerRender:
    status: str
    path: Path
    srt: Path
    workflow: dict[str, Any]
    audio: list[Any]  # per-scene TTS AudioClips
    timings: list[Any]  # per-scene SpeechTimings
    clips: list[Any]  # per-scene VIDEO clips
    cues: list[Any]
    scenes: list[Any]
    fps: float
    wall_s: float
    failed: dict[str, Any]


@pytest.fixture(scope="session")
def registry():
    from reelgraph.engine import Registry

    reg = Registry.discover()
    # Our packs must load; another pack's breakage is its own tests' business.
    ours = [
        e for e in reg.load_errors if any(f in (e.traceback or "") + e.message for f in MEDIA_FILES)
    ]
    assert ours == [], [e.message for e in ours]
    return reg


@pytest.fixture(scope="session")
def engine(registry):
    from reelgraph.engine import Cache, Engine

    # A private, memory-only cache: the tests must really render, not reuse files.
    with Engine(registry, Cache()) as eng:
        yield eng


@pytest.fixture(scope="session")
def explainer(engine, tmp_path_factory) -> ExplainerRender:
    from reelgraph.engine import load_workflow

    out = tmp_path_factory.mktemp("explainer")
    wf = load_workflow(EXPLAINER)
    res = engine.run(wf, targets=["encode", "srt", "speak", "clip", "subs", "split"], out_dir=out)
    o = res.outputs
    return ExplainerRender(
        status=res.status,
        path=Path(o["encode"]["path"]) if "encode" in o else out / "missing.mp4",
        srt=Path(o["srt"]["path"]) if "srt" in o else out / "missing.srt",
        workflow=json.loads(EXPLAINER.read_text()),
        audio=o.get("speak", {}).get("audio", []),
        timings=o.get("speak", {}).get("timings", []),
        clips=o.get("clip", {}).get("video", []),
        cues=o.get("subs", {}).get("subtitles", []),
        scenes=o.get("split", {}).get("scenes", []),
        fps=24.0,
        wall_s=res.wall_s,
        failed={k: str(v) for k, v in res.failed.items()},
    )
