"""Code keys kept across processes: a later process uses a stored key only while every
source it was made from (and every "is this a module?" answer) is the same; an edit to
a helper module, or a new module file that changes what a name means, makes it anew."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PROBE = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from reelgraph.engine.code_hash import code_hash
    from rgkeypack.a import node_fn
    print(json.dumps({"key": code_hash(node_fn)}))
    """
)


def _key(pack_dir: Path, store: Path, use_store: bool = True) -> str:
    env = {**os.environ, "REELGRAPH_COMPILED_DIR": str(store), "PYTHONDONTWRITEBYTECODE": "1"}
    env["REELGRAPH_CODE_KEYS"] = "1" if use_store else "0"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(pack_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])["key"]


def _write(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text))


def test_a_stored_key_is_used_only_while_its_sources_are_the_same(tmp_path):
    pack = tmp_path / "src" / "rgkeypack"
    pack.mkdir(parents=True)
    store = tmp_path / "compiled"
    _write(pack / "__init__.py", "tools = None\n")
    _write(
        pack / "a.py",
        """
        from . import tools
        from .b import helper

        def node_fn():
            return helper() + (tools.run() if tools else 0)
        """,
    )
    _write(pack / "b.py", "def helper():\n    return 1\n")

    first = _key(pack.parent, store)
    assert list((store / "code-keys").glob("*.json"))  # written at exit
    assert _key(pack.parent, store) == first == _key(pack.parent, store, use_store=False)

    _write(pack / "b.py", "def helper():\n    return 2\n")  # a helper's code changes
    edited = _key(pack.parent, store)
    assert edited != first and edited == _key(pack.parent, store, use_store=False)

    # a new module makes `tools` name it (its code now counts), though no source that
    # was read before changed
    _write(pack / "tools.py", "def run():\n    return 3\n")
    with_module = _key(pack.parent, store)
    assert with_module != edited
    assert with_module == _key(pack.parent, store, use_store=False)
    assert _key(pack.parent, store) == with_module
