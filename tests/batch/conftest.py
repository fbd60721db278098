"""Batch tests: the docs' greetings workflow at 160x90, 2 fps, so a row renders in seconds."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "greetings.json"
SMALL = {"width": 160, "height": 90, "fps": 2.0, "card_width": 160, "card_height": 90}


def small_greetings(**overrides: Any) -> dict[str, Any]:
    """The docs example with small sizes written into its node inputs (what a param
    not given keeps), so rows need only name and city."""
    doc = json.loads(EXAMPLE.read_text())
    for name, value in {**SMALL, **overrides}.items():
        p = doc["params"][name]
        p["default"] = value
        doc["nodes"][p["node"]]["inputs"][p["input"]] = value
    return doc


@pytest.fixture
def greetings(tmp_path: Path) -> Path:
    path = tmp_path / "greetings.json"
    path.write_text(json.dumps(small_greetings()))
    return path


def write_csv(path: Path, rows: list[dict[str, Any]], **kw: Any) -> Path:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, columns, **kw)
        w.writeheader()
        w.writerows(rows)
    return path


def frame_hashes(path: Path) -> list[str]:
    import av

    out = []
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            out.append(
                hashlib.blake2b(
                    frame.to_ndarray(format="rgb24").tobytes(), digest_size=12
                ).hexdigest()
            )
    return out


def manifest(out: Path) -> dict[str, Any]:
    return json.loads((out / "batch.json").read_text())
