"""Tiny random-weight pipelines, built once per session into a temporary models folder and
loaded back by the nodes through the same from_pretrained path real models take."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("diffusers")


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """Every tiny pipeline, built once per session."""
    from reelgraph.engine.models import model_cache
    from tests.tiny_models import write

    root = tmp_path_factory.mktemp("models")
    write(root)
    yield root
    model_cache().clear()


@pytest.fixture
def models_dir(tiny_models, monkeypatch) -> Path:
    """REELGRAPH_MODELS points at the tiny models for one test (other test folders keep theirs)."""
    monkeypatch.setenv("REELGRAPH_MODELS", str(tiny_models))
    return tiny_models


@pytest.fixture(scope="session")
def registry():
    from reelgraph.engine import Registry

    reg = Registry.discover()
    assert reg.load_errors == [], [e.message for e in reg.load_errors]
    return reg


def workflow(nodes: dict[str, Any]) -> Any:
    from reelgraph.engine import loads_workflow

    for spec in nodes.values():
        spec.setdefault("type_version", 1)
    return loads_workflow(
        json.dumps({"format": "reelgraph.workflow", "version": 1, "nodes": nodes})
    )


class Runner:
    """Runs a one-off workflow with a fresh value cache (so nodes really execute) and keeps
    the events; the model cache is the process-wide one, as in a real server."""

    def __init__(self, registry, out_dir: Path):
        self.registry = registry
        self.out_dir = out_dir

    def run(
        self,
        nodes: dict[str, Any],
        *,
        targets=None,
        cancel=None,
        listener=None,
        params=None,
        wf: Any = None,
    ):
        from reelgraph.engine import Cache, Engine

        events: list[Any] = []

        def listen(e):
            events.append(e)
            if listener is not None:
                listener(e)

        with Engine(self.registry, Cache()) as eng:
            res = eng.run(
                wf if wf is not None else workflow(nodes),
                targets=targets if targets is not None or wf is not None else list(nodes),
                listener=listen,
                cancel=cancel,
                out_dir=self.out_dir,
                params=params,
            )
        res.events = events
        return res


@pytest.fixture(scope="session")
def out_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("out")


@pytest.fixture
def runner(registry, models_dir, out_dir) -> Runner:
    return Runner(registry, out_dir)
