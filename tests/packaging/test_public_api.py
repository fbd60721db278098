"""Node packs, built-in or custom, use only the public API: `reelgraph`, `reelgraph.media`
and `reelgraph.models`. The engine and server are free to change behind it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = {"reelgraph", "reelgraph.media", "reelgraph.models"}
# Names a distribution must never claim (ComfyUI checkouts have nodes.py and server.py).
FORBIDDEN_TOP_LEVEL = {"engine", "nodes", "server", "web", "workflows"}


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every absolute import; relative ones stay inside their pack."""
    found = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            found += [(n.lineno, a.name) for a in n.names]
        elif isinstance(n, ast.ImportFrom) and n.level == 0 and n.module:
            found.append((n.lineno, n.module))
    return found


def _violations(source: str, own_package: str | None = None) -> list[str]:
    bad = []
    for line, module in _imported_modules(ast.parse(source)):
        top = module.split(".")[0]
        if top in FORBIDDEN_TOP_LEVEL:
            bad.append(f"line {line}: imports top-level {module!r}")
        elif top == "reelgraph" and module not in PUBLIC:
            inside_own_pack = own_package and (
                module == own_package or module.startswith(own_package + ".")
            )
            if not inside_own_pack:
                bad.append(f"line {line}: imports {module!r} (public: {', '.join(sorted(PUBLIC))})")
    return bad


BUILTIN = sorted((ROOT / "reelgraph" / "nodes").rglob("*.py"))


def test_the_built_in_packs_are_found():
    assert len(BUILTIN) > 10


@pytest.mark.parametrize("path", BUILTIN, ids=lambda p: str(p.relative_to(ROOT)))
def test_built_in_pack_module_imports_only_the_public_api(path):
    assert _violations(path.read_text(), own_package="reelgraph.nodes") == []


def _pack_sources_in_tests() -> list[tuple[str, str]]:
    """Custom packs the tests write or load: pack modules, and pack sources held in strings."""
    out = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        text = path.read_text()
        name = str(path.relative_to(ROOT))
        if path.name.startswith("testnodes"):
            out.append((name, text))
        for n in ast.walk(ast.parse(text)):
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and "@node(" in n.value:
                try:
                    ast.parse(n.value)
                except SyntaxError:
                    continue  # a fragment, not a module
                out.append((f"{name}:{n.lineno}", n.value))
    return out


def test_custom_packs_in_tests_use_the_public_api():
    packs = _pack_sources_in_tests()
    assert len(packs) >= 5
    bad = {name: v for name, src in packs if (v := _violations(src))}
    assert bad == {}


def test_the_guide_teaches_the_public_api():
    text = (ROOT / "docs" / "nodes.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks and "from reelgraph import" in blocks[0]
    assert all(_violations(b) == [] for b in blocks)


def test_the_checker_catches_what_it_must():
    assert _violations("from reelgraph.engine import node") != []
    assert _violations("import reelgraph.server.app") != []
    assert _violations("from engine import node") != []
    assert _violations("def f():\n    from reelgraph.engine.media.video import X\n") != []
    assert _violations("from reelgraph import node\nfrom reelgraph.media import FileVideo") == []
    assert _violations("from reelgraph.nodes.video import place", "reelgraph.nodes") == []
