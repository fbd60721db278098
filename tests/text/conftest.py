"""Fixtures for the script-understanding tests."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).parent / "samples"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def article() -> str:
    return (SAMPLES / "article_en.txt").read_text("utf-8")


@pytest.fixture(scope="session")
def registry():
    from reelgraph.engine import Registry

    return Registry.discover()


@pytest.fixture()
def engine(registry):
    from reelgraph.engine import Cache, Engine

    with Engine(registry, Cache()) as eng:  # memory-only: each test really runs
        yield eng
