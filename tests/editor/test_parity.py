"""Where the editor repeats engine knowledge, it agrees with the engine.

The browser's type compatibility (js/types.js) is checked against engine/types.py for every
pair of the types the server publishes (and their list forms); the param types the Params
panel offers against the ones a workflow may declare.
"""

from __future__ import annotations

from typing import Any

from reelgraph.engine.types import compatibility
from reelgraph.engine.workflow import PARAM_TYPES, coerce_param

from .conftest import Editor


def test_socket_compatibility_matches_the_engine_for_every_pair(editor: Editor) -> None:
    editor.open()
    names = sorted(editor.server.request("GET", "/api/types")["types"])
    every = names + [f"list[{n}]" for n in names if n != "ANY"]
    js: dict[str, str] = editor.page.evaluate(
        """async (types) => { const { compatibility } = await import('/js/types.js'), out = {};
        for (const a of types) for (const b of types) out[`${a}>${b}`] = compatibility(a, b);
        return out; }""",
        every,
    )
    assert len(js) == len(every) ** 2 and len(every) > 10
    differ = {k: (v, compatibility(*k.split(">")).value) for k, v in js.items()}
    differ = {k: v for k, v in differ.items() if v[0] != v[1]}
    assert differ == {}


def test_the_params_panel_offers_the_engine_param_types(editor: Editor) -> None:
    editor.open()
    offered: list[str] = editor.page.evaluate(
        "async () => (await import('/js/panels.js')).PARAM_TYPE_NAMES"
    )
    assert tuple(offered) == PARAM_TYPES
    # a param exposed from a widget gets a type the engine can coerce its values to
    kinds: dict[str, Any] = editor.page.evaluate(
        "async () => (await import('/js/panels.js')).PARAM_TYPES"
    )
    samples = {"INT": "3", "FLOAT": "0.5", "BOOL": "true"}
    for kind, ptype in kinds.items():
        assert ptype in PARAM_TYPES
        coerce_param(samples[kind], ptype)
