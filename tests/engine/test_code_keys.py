"""Cache keys follow the code a node runs: its function and the same-pack code it reaches.

Each test writes a real custom pack (a package with a helper module) to a temporary
folder and loads it the way `Registry.discover` does, edits a file, and loads it again.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from reelgraph.engine import Cache, DiskCache, Engine, MemoryCache, Registry
from reelgraph.engine.code_hash import code_hash, pack_root
from reelgraph.engine.graph import compile_plan

from .helpers import n, workflow

INIT = '''
"""A small pack: A scales through a helper module, B adds one."""

from typing import Annotated

from reelgraph import Int, node

from .helper import scale


@node("keys.A", category="test", outputs={"value": "INT"})
def a(x: Annotated[int, Int(0, 100)] = 2) -> int:
    """Scale x with the helper."""
    return scale(x)


@node("keys.B", category="test", outputs={"value": "INT"})
def b(x: Annotated[int, Int(0, 100)] = 2) -> int:
    """Add one."""
    return x + 1


@node("keys.C", category="test", outputs={"value": "INT"})
def c(x: int = 2) -> int:
    return Shape(x).area() + OFFSET


class Shape:
    def __init__(self, side):
        self.side = side

    def area(self):
        return self.side * self.side


OFFSET = 7
'''

HELPER = '''
"""Helpers of the pack."""

FACTOR = 3


def scale(x):
    # multiply by the pack's factor
    return x * FACTOR
'''


def write_pack(root: Path, init: str = INIT, helper: str = HELPER) -> Path:
    pack = root / "custom_nodes" / "keyspack"
    pack.mkdir(parents=True, exist_ok=True)
    (pack / "__init__.py").write_text(textwrap.dedent(init))
    (pack / "helper.py").write_text(textwrap.dedent(helper))
    return root / "custom_nodes"


def load(folder: Path) -> Registry:
    reg = Registry()
    reg.load_folder(folder)
    assert not reg.load_errors, reg.load_errors
    return reg


def keys(folder: Path) -> dict[str, str]:
    """The plan's cache key of each node type of the pack, one node each."""
    reg = load(folder)
    wf = workflow({t: n(f"keys.{t}", x=4) for t in ("A", "B", "C")})
    plan = compile_plan(wf, reg, check_all=True)
    return {nid: pn.key for nid, pn in plan.nodes.items()}


def test_editing_one_node_leaves_the_other_nodes_of_its_file_alone(tmp_path):
    folder = write_pack(tmp_path)
    before = keys(folder)
    write_pack(tmp_path, init=INIT.replace("return x + 1", "return x + 2"))
    after = keys(folder)
    assert after["B"] != before["B"]
    assert after["A"] == before["A"] and after["C"] == before["C"]


def test_editing_a_helper_in_another_module_changes_the_callers_key(tmp_path):
    folder = write_pack(tmp_path)
    before = keys(folder)
    write_pack(tmp_path, helper=HELPER.replace("FACTOR = 3", "FACTOR = 5"))
    after = keys(folder)
    assert after["A"] != before["A"]
    assert after["B"] == before["B"] and after["C"] == before["C"]


def test_classes_and_constants_the_node_reaches_are_in_its_key(tmp_path):
    folder = write_pack(tmp_path)
    before = keys(folder)
    write_pack(tmp_path, init=INIT.replace("self.side * self.side", "self.side * 2"))
    edited_method = keys(folder)
    write_pack(tmp_path, init=INIT.replace("OFFSET = 7", "OFFSET = 8"))
    edited_constant = keys(folder)
    assert edited_method["C"] != before["C"] and edited_constant["C"] != before["C"]
    assert edited_method["A"] == before["A"] == edited_constant["A"]


def test_docstrings_comments_and_formatting_change_no_key(tmp_path):
    folder = write_pack(tmp_path)
    before = keys(folder)
    init = (
        INIT.replace('"""Scale x with the helper."""', '"""Scale x, now documented better."""')
        .replace('"""Add one."""', "# adds one\n    ")
        .replace(
            "return Shape(x).area() + OFFSET",
            "return (\n        Shape(x).area()  # c\n        + OFFSET\n    )",
        )
        .replace('"""A small pack', '"""A pack')
    )
    helper = HELPER.replace("# multiply by the pack's factor", '"""Times FACTOR."""').replace(
        "FACTOR = 3", "FACTOR = (3)  # the factor"
    )
    write_pack(tmp_path, init=init, helper=helper)
    assert keys(folder) == before


def test_a_stale_result_is_never_served_after_a_helper_edit(tmp_path):
    """The case of the issue: a node calls helper.py; the factor goes 3 -> 5 between two
    runs that share a disk cache. The second run must run the node and give 5 x."""
    folder = write_pack(tmp_path)
    cache_dir = tmp_path / "cache"
    wf = workflow({"a": n("keys.A", x=4), "b": n("keys.B", x=4)})

    def run():
        cache = Cache(MemoryCache(), DiskCache(cache_dir), disk_min_seconds=0)
        eng = Engine(load(folder), cache, out_dir=tmp_path / "out")
        try:
            return eng.run(wf, targets=["a", "b"])
        finally:
            eng.close()

    first = run()
    assert first.outputs["a"]["value"] == 12 and sorted(first.executed) == ["a", "b"]
    assert run().executed == []
    write_pack(tmp_path, helper=HELPER.replace("FACTOR = 3", "FACTOR = 5"))
    third = run()
    assert third.outputs["a"]["value"] == 20
    assert third.executed == ["a"] and third.cached == ["b"]


def test_builtin_keys_do_not_depend_on_unrelated_nodes_of_the_module():
    reg = Registry()
    reg.load_entry_points()
    blur, invert = reg["image.Blur"], reg["image.Invert"]
    assert blur.source_hash != invert.source_hash
    assert len(blur.source_hash) == 32 and code_hash(blur.fn) == blur.source_hash


def test_pack_roots():
    assert pack_root("reelgraph.nodes.image") == "reelgraph.nodes"
    assert pack_root("reelgraph_custom_nodes.keyspack.helper") == "reelgraph_custom_nodes.keyspack"
    assert pack_root("mypack.nodes") == "mypack"
