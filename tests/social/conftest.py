"""Fixtures for the social-format tests: the registry, an engine with a private cache,
one real Piper utterance shared by the caption, music and lesson tests, and the
three shipped social workflows rendered once each at a small size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "reelgraph" / "workflows"
OURS = ("formats", "captions", "brand", "music", "lesson")

SENTENCE = (
    "Short videos need captions. People watch them without sound, so every single word counts!"
)


@pytest.fixture(scope="session")
def registry():
    from reelgraph.engine import Registry

    reg = Registry.discover()
    mine = [e for e in reg.load_errors if any(f"nodes/{m}.py" in (e.traceback or "") for m in OURS)]
    assert mine == [], [e.message for e in mine]
    return reg


@pytest.fixture(scope="session")
def engine(registry):
    from reelgraph.engine import Cache, Engine

    with Engine(registry, Cache()) as eng:
        yield eng


@pytest.fixture(scope="session")
def speech():
    """(AudioClip, SpeechTimings) of SENTENCE from the default Piper voice."""
    from reelgraph.nodes.tts import DEFAULT_VOICE, speak_piper

    return speak_piper(SENTENCE, DEFAULT_VOICE, 1.0, True, 0.2)


def small_workflow(name: str, width: int, height: int, **inputs: dict[str, Any]) -> Any:
    """A shipped workflow as shipped, but at a small custom size (fast tests)."""
    from reelgraph.engine import loads_workflow

    doc = json.loads((WORKFLOWS / f"{name}.json").read_text())
    doc["nodes"]["format"]["inputs"].update(preset="custom", width=width, height=height)
    for nid, values in inputs.items():
        doc["nodes"][nid]["inputs"].update(values)
    # Loaded as the shipped file, so its asset paths (assets/...) resolve beside it.
    return loads_workflow(json.dumps(doc), str(WORKFLOWS / f"{name}.json"))


@pytest.fixture(scope="session")
def rendered(engine, tmp_path_factory):
    """Render a shipped workflow once per session: rendered(name) -> (result, out dir)."""
    done: dict[str, Any] = {}
    sizes = {"short": (360, 640), "ad": (432, 540), "lesson": (640, 360)}
    extra = {"lesson": {"presenter": {"width": 160, "height": 160}}}
    looked_at = {  # besides the outputs (encode, srt, cover), the values the tests check
        "short": ["captions", "loudness"],
        "ad": ["captions", "loudness"],
        "lesson": ["loudness"],
    }

    def get(name: str) -> Any:
        if name not in done:
            out = tmp_path_factory.mktemp(name)
            wf = small_workflow(name, *sizes[name], **extra.get(name, {}))
            targets = [n for n in ("encode", "srt", "cover") if n in wf.nodes] + looked_at[name]
            done[name] = (engine.run(wf, targets=targets, out_dir=out), out)
        return done[name]

    return get
