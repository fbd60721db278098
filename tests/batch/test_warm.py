"""Warming a batch worker: registry, cache and the workflow's voices, before its first row."""

from __future__ import annotations

import json
import os
from pathlib import Path

from reelgraph.engine.batch.job import warm_worker


def test_warm_worker_loads_the_voices_a_workflow_names(tmp_path: Path, greetings: Path) -> None:
    from reelgraph.nodes import tts

    doc = json.loads(greetings.read_text())
    voices = {
        spec["inputs"]["voice"] for spec in doc["nodes"].values() if spec["type"] == "tts.Speak"
    }
    assert voices == {"en_US-joe-medium"}
    tts._VOICES.pop("en_US-joe-medium", None)
    # broken node specs and unknown types are skipped, not fatal: the row reports them
    doc["nodes"]["odd"] = {"type": "no.SuchNode", "inputs": {"voice": 3}}
    doc["nodes"]["bad"] = {"type": "tts.Speak", "inputs": {"voice": "not-a-voice"}}
    where = warm_worker(str(tmp_path / "cache"), doc)
    assert where.endswith(f":{os.getpid()}")
    assert "en_US-joe-medium" in tts._VOICES
    assert "not-a-voice" not in tts._VOICES
