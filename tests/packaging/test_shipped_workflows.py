"""No saved workflow needs migrating: documents store type ids, not module paths.

Every shipped workflow loads as it is (already at the current format version, so no
migration step touches it), all its node types resolve in the registry, and it
validates. Workflows that need generative models only miss those models here."""

from __future__ import annotations

import json

import pytest

from reelgraph.engine import Registry, validate_workflow
from reelgraph.engine.resources import shipped_workflows
from reelgraph.engine.sources import open_workflow
from reelgraph.engine.workflow import CURRENT_VERSION

SHIPPED = shipped_workflows()


@pytest.fixture(scope="module")
def registry():
    reg = Registry.discover(custom_nodes=[])
    assert reg.load_errors == []
    return reg


def test_the_shipped_workflows_are_there():
    assert {"explainer", "slideshow", "demo_image", "presenter", "story", "txt2vid"} <= set(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_workflow_loads_unchanged_and_validates(name, registry, tmp_path, monkeypatch):
    path = SHIPPED[name]
    monkeypatch.chdir(tmp_path)  # from a folder that is not the repository
    raw = json.loads(path.read_text())
    wf = open_workflow(name)
    assert wf.doc == raw and raw["version"] == CURRENT_VERSION  # nothing migrated
    missing = sorted({e["type"] for e in raw["nodes"].values() if e["type"] not in registry})
    assert missing == []
    issues = validate_workflow(wf, registry)
    errors = [i for i in issues if i.severity == "error"]
    # A generative model is not in this machine's models folder: the one error allowed,
    # and it names the folder to put the model in.
    unexpected = [
        i
        for i in errors
        if not (i.code == "bad_value" and i.input == "model" and "models" in i.message)
    ]
    assert unexpected == [], [i.to_dict() for i in unexpected]
    assert [i for i in issues if i.code in ("type_version", "unknown_node_type")] == []
