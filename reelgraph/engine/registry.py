"""The node registry and the discovery of node packs.

Packs come from three places, in this order: the `reelgraph.nodes` entry-point
group (the built-in `nodes` package is registered there like any third-party
pack), then every module or package in the custom-nodes folders. A pack that
fails to import is recorded in `load_errors`, never fatal: one broken custom
node must not take the others down.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import pkgutil
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

from .node import NodeType, node_type_of

ENTRY_POINT_GROUP = "reelgraph.nodes"
CUSTOM_PREFIX = "reelgraph_custom_nodes"


class _FromSource(importlib.machinery.SourceFileLoader):
    """Custom packs are compiled from their source at every load, never from a cached
    .pyc: Python trusts a .pyc while the file's size and mtime (in whole seconds) match,
    so an edit of the same length within a second would run the old code under the new
    code's cache key. Nothing is written to __pycache__ either."""

    def get_code(self, fullname: str) -> Any:
        path = self.get_filename(fullname)
        return compile(self.get_data(path), path, "exec", dont_inherit=True)


def _spec_from_source(name: str, file: Path, search: list[str] | None) -> Any:
    return importlib.util.spec_from_file_location(
        name, file, loader=_FromSource(name, str(file)), submodule_search_locations=search
    )


class _CustomSubmodules:
    """Finds the submodules of custom packages (`from .helpers import x` inside a pack
    folder) with the same from-source loader as the packs themselves."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if not fullname.startswith(CUSTOM_PREFIX + ".") or fullname.count(".") < 2:
            return None
        leaf = fullname.rsplit(".", 1)[1]
        for entry in path or ():
            base = Path(entry) / leaf
            if (base / "__init__.py").is_file():
                return _spec_from_source(fullname, base / "__init__.py", [str(base)])
            if base.with_suffix(".py").is_file():
                return _spec_from_source(fullname, base.with_suffix(".py"), None)
        return None


if not any(isinstance(f, _CustomSubmodules) for f in sys.meta_path):
    sys.meta_path.insert(0, _CustomSubmodules())


@dataclass(frozen=True)
class PackLoadError:
    source: str
    message: str
    traceback: str = ""


class Registry:
    """Node types by id. Create one per engine; there is no global registry."""

    def __init__(self) -> None:
        self._types: dict[str, NodeType] = {}
        self.load_errors: list[PackLoadError] = []

    # -- adding ---------------------------------------------------------------
    def add(self, item: NodeType | Callable[..., Any], *, replace: bool = False) -> NodeType:
        nt = item if isinstance(item, NodeType) else node_type_of(item)
        if nt is None:
            raise TypeError(f"{item!r} is not a node: decorate it with @node(...)")
        if nt.id in self._types and not replace and self._types[nt.id] is not nt:
            raise ValueError(
                f"node type {nt.id!r} is declared twice: in {self._types[nt.id].pack} and {nt.pack}"
            )
        self._types[nt.id] = nt
        return nt

    def add_module(self, module: ModuleType, source: str = "") -> int:
        """Register every node in `module`; a package also gets its submodules walked."""
        count = 0
        modules = [module]
        if hasattr(module, "__path__"):
            for info in pkgutil.walk_packages(module.__path__, module.__name__ + "."):
                try:
                    modules.append(importlib.import_module(info.name))
                except Exception as exc:  # a broken pack module is reported, not fatal
                    self._record(source or info.name, exc)
        for mod in modules:
            for value in list(vars(mod).values()):
                nt = node_type_of(value)
                if nt is None or nt.pack != mod.__name__:
                    continue  # imported from elsewhere: registered by its own module
                try:
                    self.add(nt)
                    count += 1
                except ValueError as exc:
                    self.load_errors.append(PackLoadError(source or mod.__name__, str(exc)))
        return count

    def _record(self, source: str, exc: BaseException) -> None:
        self.load_errors.append(
            PackLoadError(source, f"{type(exc).__name__}: {exc}", traceback.format_exc())
        )

    # -- discovery ------------------------------------------------------------
    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        for ep in sorted(entry_points(group=group), key=lambda e: (e.name != "builtin", e.name)):
            try:
                self.add_module(ep.load(), f"entry point {ep.name}={ep.value}")
            except Exception as exc:
                self._record(f"entry point {ep.name}={ep.value}", exc)

    def load_folder(self, folder: Path) -> None:
        """Import each `*.py` file and each package directory of a custom-nodes folder."""
        if not folder.is_dir():
            return
        for path in sorted(folder.iterdir()):
            if path.name.startswith((".", "_")):
                continue
            if path.is_dir() and (path / "__init__.py").is_file():
                file = path / "__init__.py"
                search: list[str] | None = [str(path)]
            elif path.suffix == ".py":
                file, search = path, None
            else:
                continue
            name = f"{CUSTOM_PREFIX}.{path.stem}"
            # Loading a pack again (after an edit) must not reuse its old submodules.
            for stale in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                del sys.modules[stale]
            try:
                spec = _spec_from_source(name, file, search)
                if spec is None or spec.loader is None:
                    raise ImportError(f"cannot load {file}")
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
                self.add_module(module, str(path))
            except Exception as exc:
                sys.modules.pop(name, None)
                self._record(str(path), exc)

    @classmethod
    def discover(cls, custom_nodes: Iterable[Path] | None = None) -> Registry:
        reg = cls()
        reg.load_entry_points()
        for folder in custom_nodes if custom_nodes is not None else default_custom_node_dirs():
            reg.load_folder(Path(folder))
        return reg

    # -- lookup ---------------------------------------------------------------
    def get(self, type_id: str) -> NodeType | None:
        return self._types.get(type_id)

    def __getitem__(self, type_id: str) -> NodeType:
        return self._types[type_id]

    def __contains__(self, type_id: object) -> bool:
        return type_id in self._types

    def __iter__(self) -> Iterator[NodeType]:
        return iter(sorted(self._types.values(), key=lambda t: t.id))

    def __len__(self) -> int:
        return len(self._types)

    def schemas(self) -> list[dict[str, Any]]:
        return [nt.schema() for nt in self]


def default_custom_node_dirs() -> list[Path]:
    """`./custom_nodes` plus the folders in REELGRAPH_CUSTOM_NODES (os.pathsep-separated)."""
    dirs = [Path.cwd() / "custom_nodes"]
    extra = os.environ.get("REELGRAPH_CUSTOM_NODES", "")
    dirs += [Path(p) for p in extra.split(os.pathsep) if p]
    return dirs
