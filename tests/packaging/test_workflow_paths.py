"""A relative path in a workflow document resolves against the document's folder when
it does not exist relative to the current folder (docs/workflow-format.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reelgraph.engine import Engine, Registry, WorkflowError
from reelgraph.engine.docpaths import resolve_document_paths
from reelgraph.engine.sources import open_workflow
from reelgraph.nodes.png import encode_png


@pytest.fixture(scope="module")
def registry():
    return Registry.discover(custom_nodes=[])


def _png(path: Path, grey: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(np.full((4, 4, 3), grey, np.uint8)))


def _project(tmp_path: Path) -> Path:
    """A folder holding a workflow and the picture it loads, by a relative path."""
    project = tmp_path / "project"
    _png(project / "pics" / "a.png", 200)
    doc = {
        "format": "reelgraph.workflow",
        "version": 1,
        "nodes": {"load": {"type": "image.Load", "inputs": {"path": "pics/a.png"}}},
        "params": {"picture": {"node": "load", "input": "path", "type": "TEXT"}},
    }
    (project / "wf.json").write_text(json.dumps(doc))
    return project / "wf.json"


def _grey(engine: Engine, wf, **kw) -> int:
    image = engine.run(wf, targets=["load"], **kw).outputs["load"]["image"]
    return round(float(image[0, 0, 0, 0]) * 255)


def test_a_relative_path_resolves_beside_the_document(tmp_path, registry, monkeypatch):
    wf_file = _project(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    wf = open_workflow(wf_file)
    assert _grey(Engine(registry, out_dir=tmp_path / "out"), wf) == 200
    # The document the caller holds (and might save) keeps the path as written.
    assert wf.nodes["load"]["inputs"]["path"] == "pics/a.png"
    assert resolve_document_paths(wf).nodes["load"]["inputs"]["path"] == str(
        wf_file.parent / "pics" / "a.png"
    )


def test_a_path_that_exists_from_the_current_folder_wins(tmp_path, registry, monkeypatch):
    wf_file = _project(tmp_path)
    here = tmp_path / "here"
    _png(here / "pics" / "a.png", 50)
    monkeypatch.chdir(here)
    assert _grey(Engine(registry, out_dir=tmp_path / "out"), open_workflow(wf_file)) == 50


def test_a_param_value_is_the_users_and_never_rewritten(tmp_path, registry, monkeypatch):
    wf_file = _project(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    engine = Engine(registry, out_dir=tmp_path / "out")
    with pytest.raises(WorkflowError) as err:
        engine.run(open_workflow(wf_file), params={"picture": "pics/a.png"}, targets=["load"])
    assert [i.message for i in err.value.issues] == ["no such file: pics/a.png"]
    _png(elsewhere / "mine.png", 90)
    assert _grey(engine, open_workflow(wf_file), params={"picture": "mine.png"}) == 90


def test_text_that_is_not_a_path_is_left_alone(tmp_path):
    from reelgraph.engine import Workflow

    (tmp_path / "notes").mkdir()
    (tmp_path / "Hello. World").write_text("x")
    doc = {
        "format": "reelgraph.workflow",
        "version": 1,
        "nodes": {
            "t": {"type": "text.Script", "inputs": {"text": "notes", "style": "Hello. World\n"}}
        },
    }
    wf = Workflow(doc, str(tmp_path / "wf.json"))
    assert resolve_document_paths(wf) is wf  # a bare word, and a multi-line text


def test_a_param_default_that_fills_an_empty_input_resolves_too(tmp_path, registry, monkeypatch):
    wf_file = _project(tmp_path)
    doc = json.loads(wf_file.read_text())
    del doc["nodes"]["load"]["inputs"]["path"]
    doc["params"]["picture"]["default"] = "pics/a.png"
    wf_file.write_text(json.dumps(doc))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    wf = open_workflow(wf_file)
    assert _grey(Engine(registry, out_dir=tmp_path / "out"), wf) == 200
    assert resolve_document_paths(wf).params == doc["params"]  # the params stay as written
