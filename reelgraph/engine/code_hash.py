"""Code keys: a hash of the code a node runs, and of nothing else.

A node's key covers its own function plus every function, class and constant of
its pack that it reaches, transitively: names resolved through its module's
top-level definitions and through `from .x import y` / `import pack.x` within the
same pack. Code outside the pack (the stdlib, torch, reelgraph itself) enters only
as the name it was imported under. The code is hashed as its AST with docstrings
stripped, so comments, docstrings and formatting never change a key.

Sources are read when a node is declared (the bytes that were imported, not a
later edit) and parsed only when a key is first asked for. Parses and
per-definition hashes are cached by the source's digest, so a pack loaded again
with the same files costs nothing.
"""

from __future__ import annotations

import ast
import atexit
import hashlib
import importlib.util
import inspect
import json
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

# Bumped when the hashing scheme changes, so old disk-cache entries are not reused.
SCHEME = b"reelgraph.code.1"

# Namespaces whose second component names the pack (`reelgraph.nodes`, a custom pack).
_NAMESPACES = ("reelgraph", "reelgraph_custom_nodes")

_DEF_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def pack_root(module: str) -> str:
    """The package a module's pack is: `reelgraph.nodes` for the built-ins, the custom
    pack's package for a custom pack, else the top-level package."""
    parts = module.split(".")
    if parts[0] in _NAMESPACES and len(parts) >= 2:
        return ".".join(parts[:2])
    return parts[0]


def _in_pack(module: str, root: str) -> bool:
    return module == root or module.startswith(root + ".")


# --- sources: read at declaration, keyed by the module object --------------------

# module name -> (the module object the bytes belong to, source bytes or None). A weak
# reference: a reloaded pack is a new module object (an id could be reused).
_SOURCES: dict[str, tuple[Callable[[], ModuleType | None], bytes | None]] = {}


def _no_module() -> None:
    return None


def _read_source(module: ModuleType | None, name: str) -> bytes | None:
    path = getattr(module, "__file__", None) if module is not None else None
    if path is None:
        spec = None
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            pass
        path = spec.origin if spec is not None else None
    if not path or not str(path).endswith(".py"):
        return None
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _source(name: str) -> bytes | None:
    module = sys.modules.get(name)
    hit = _SOURCES.get(name)
    if hit is not None and hit[0]() is module:
        return hit[1]
    data = _read_source(module, name)
    try:
        ref: Callable[[], ModuleType | None] = weakref.ref(module) if module else _no_module
    except TypeError:
        ref = _no_module
    _SOURCES[name] = (ref, data)
    return data


_SCANNED: dict[str, int] = {}  # pack root -> len(sys.modules) at its last scan


def snapshot_pack(module_name: str) -> None:
    """Record the sources of the pack's modules imported so far (cheap: one read per
    module, once), so a key reflects the code that was imported, not a later edit."""
    root = pack_root(module_name)
    _source(module_name)
    # The other pack modules: rescanned only when more modules were imported since.
    if _SCANNED.get(root) == len(sys.modules):
        return
    _SCANNED[root] = len(sys.modules)
    for name in [m for m in list(sys.modules) if _in_pack(m, root)]:
        _source(name)


# --- parsed modules ----------------------------------------------------------------


@dataclass
class _Module:
    name: str
    is_package: bool
    digest: bytes
    # top-level name -> the statements that bind it
    defs: dict[str, list[ast.stmt]] = field(default_factory=dict)
    # local name -> (module, attribute or None for the module itself)
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    star: list[str] = field(default_factory=list)  # modules of `from x import *`
    tree: ast.Module | None = None

    def def_at(self, line: int) -> ast.stmt | None:
        """The function or class whose first line (decorators included) is `line`."""
        for n in ast.walk(self.tree) if self.tree is not None else ():
            if isinstance(n, _DEF_TYPES):
                first = n.decorator_list[0].lineno if n.decorator_list else n.lineno
                if first == line:
                    return n
        return None


_PARSED: dict[tuple[str, bytes], _Module | None] = {}


def _resolve_from(module: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def _import_bindings(
    stmt: ast.stmt, module: str, is_package: bool
) -> Iterator[tuple[str, tuple[str, str | None]]]:
    if isinstance(stmt, ast.Import):
        for alias in stmt.names:
            if alias.asname:
                yield alias.asname, (alias.name, None)
            else:
                top = alias.name.split(".")[0]
                yield top, (top, None)
    elif isinstance(stmt, ast.ImportFrom):
        source = _resolve_from(module, is_package, stmt.level, stmt.module)
        for alias in stmt.names:
            if alias.name != "*":
                yield alias.asname or alias.name, (source, alias.name)


def _bound_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, _DEF_TYPES):
        return [stmt.name]
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    names = []
    for t in targets:
        names += [n.id for n in ast.walk(t) if isinstance(n, ast.Name)]
    return names


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Top-level statements, looking inside if/try/with blocks (conditional defs)."""
    stack = list(reversed(body))
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, (ast.If, ast.Try, ast.With)):
            inner: list[ast.stmt] = [*stmt.body, *getattr(stmt, "orelse", [])]
            for handler in getattr(stmt, "handlers", []):
                inner += handler.body
            inner += getattr(stmt, "finalbody", [])
            stack.extend(reversed(inner))
        else:
            yield stmt


def _parse(name: str) -> _Module | None:
    data = _source(name)
    if data is None:
        _note("src", name, None)
        return None
    digest = hashlib.blake2b(data, digest_size=16).digest()
    key = (name, digest)
    if key in _PARSED:
        hit = _PARSED[key]
        is_package = hit.is_package if hit is not None else _is_package(name)
        _note("src", name, _source_tag(digest, is_package))
        return hit
    is_package = _is_package(name)
    _note("src", name, _source_tag(digest, is_package))
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError):
        _PARSED[key] = None
        return None
    info = _Module(name, is_package, digest)
    for stmt in _top_level(tree.body):
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names):
                info.star.append(_resolve_from(name, is_package, stmt.level, stmt.module))
            info.imports.update(_import_bindings(stmt, name, is_package))
            continue
        for bound in _bound_names(stmt):
            info.defs.setdefault(bound, []).append(stmt)
    info.tree = tree
    _PARSED[key] = info
    return info


def _is_package(name: str) -> bool:
    module = sys.modules.get(name)
    if module is not None:
        return hasattr(module, "__path__")
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    return bool(spec and spec.submodule_search_locations is not None)


def _source_tag(digest: bytes, is_package: bool) -> str:
    """What a key read of a module, for the key store: its source, and whether it is a
    package (relative imports resolve from it)."""
    return digest.hex() + ("/p" if is_package else "")


# --- per-definition material -------------------------------------------------------


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


@dataclass(frozen=True)
class _Mark:
    """Structure in the scan's output, never confused with a value (values are repr'd)."""

    text: str


_OPEN_LIST, _CLOSE_LIST, _CLOSE = _Mark("["), _Mark("]"), _Mark(")")
_BODY_OWNERS = (*_DEF_TYPES, ast.Module)
_Chain = tuple[str, ...]


def _scan(
    stmts: list[ast.stmt], *, drop_decorators: bool
) -> tuple[bytes, list[_Chain], list[ast.stmt]]:
    """One pass over the definitions: the digest of their normalised AST (fields only,
    no positions, docstrings dropped), the global names they use with attribute chains
    (`helper.scale` -> ("helper", "scale")), and the imports made inside them.

    Written as one iterative loop because ast.walk + ast.dump cost several times more,
    and keys are computed for every node type a workflow uses."""
    out: list[str] = []
    refs: list[_Chain] = []
    imports: list[ast.stmt] = []
    AST = ast.AST
    roots = {id(s) for s in stmts} if drop_decorators else set()
    stack: list[Any] = list(reversed(stmts))
    while stack:
        x = stack.pop()
        if not isinstance(x, AST):
            out.append(x.text if isinstance(x, _Mark) else repr(x))
            continue
        kind = type(x)
        out.append(kind.__name__)
        out.append("(")
        if kind is ast.Name:
            refs.append((x.id,))
        elif kind is ast.Attribute:
            chain = [x.attr]
            cur = x.value
            while type(cur) is ast.Attribute:
                chain.append(cur.attr)
                cur = cur.value
            if type(cur) is ast.Name:
                refs.append((cur.id, *reversed(chain)))
        elif kind in (ast.Import, ast.ImportFrom):
            imports.append(x)
        pending: list[Any] = []
        for name in x._fields:
            value = getattr(x, name, None)
            if name == "decorator_list" and id(x) in roots:
                continue  # a node's declaration is key material of its own
            if isinstance(value, list):
                if (
                    name == "body"
                    and isinstance(x, _BODY_OWNERS)
                    and value
                    and _is_docstring(value[0])
                ):
                    value = value[1:]
                pending.append(_OPEN_LIST)
                pending.extend(value)
                pending.append(_CLOSE_LIST)
            else:
                pending.append(value)
        pending.append(_CLOSE)
        stack.extend(reversed(pending))
    digest = hashlib.blake2b("\x00".join(out).encode(), digest_size=16).digest()
    return digest, refs, imports


@dataclass
class _Symbol:
    own: bytes  # digest of the normalised code
    deps: list[tuple[str, str]]  # (module, name) within the pack
    external: list[str]  # names imported from outside the pack
    # the "is this a module?" answers its resolution depended on (noted again for the
    # key store each time the cached symbol is used)
    checks: dict[str, bool] = field(default_factory=dict)


_SYMBOLS: dict[tuple[str, bytes, str, bool], _Symbol] = {}


def _module_exists(name: str) -> bool:
    found = _exists(name)
    checks = getattr(_RECORD, "checks", None)
    if checks is not None:  # resolving a symbol (see `_symbol`)
        checks[name] = found
    return found


def _exists(name: str) -> bool:
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _resolve(
    info: _Module,
    ref: tuple[str, ...],
    local_imports: dict[str, tuple[str, str | None]],
    root: str,
) -> tuple[str, str] | str | None:
    """A reference -> (module, name) inside the pack, "ext:..." outside it, or None
    (a local variable or a builtin)."""
    head, rest = ref[0], list(ref[1:])
    binding = local_imports.get(head) or info.imports.get(head)
    if binding is None:
        if head in info.defs:
            return info.name, head
        for star in info.star:
            if _in_pack(star, root):
                return star, head
        return None
    module, attr = binding
    if attr is not None:
        # `from pkg import sub` may name a submodule rather than an attribute.
        candidate = f"{module}.{attr}"
        if _in_pack(candidate, root) and _module_exists(candidate):
            module, attr = candidate, None
    if not _in_pack(module, root):
        return f"ext:{module}:{attr or ''}"
    if attr is not None:
        return module, attr
    # A same-pack module used as `mod.name` (or `pkg.sub.name`): follow the chain.
    while rest and _module_exists(f"{module}.{rest[0]}"):
        module = f"{module}.{rest.pop(0)}"
    if rest:
        return module, rest[0]
    return None


def _symbol(info: _Module, name: str, stmts: list[ast.stmt], root: str, root_def: bool) -> _Symbol:
    key = (info.name, info.digest, name, root_def)
    sym = _SYMBOLS.get(key)
    if sym is None:
        _RECORD.checks = checks = {}
        try:
            sym = _new_symbol(info, name, stmts, root, root_def)
        finally:
            _RECORD.checks = None
        sym.checks = checks
        _SYMBOLS[key] = sym
    for mod, found in sym.checks.items():
        _note("mod", mod, found)
    return sym


def _new_symbol(
    info: _Module, name: str, stmts: list[ast.stmt], root: str, root_def: bool
) -> _Symbol:
    own, refs, nested = _scan(stmts, drop_decorators=root_def)
    local_imports: dict[str, tuple[str, str | None]] = {}
    for stmt in nested:
        local_imports.update(_import_bindings(stmt, info.name, info.is_package))
    deps: list[tuple[str, str]] = []
    external: list[str] = []
    for ref in dict.fromkeys(refs):
        target = _resolve(info, ref, local_imports, root)
        if isinstance(target, tuple) and target != (info.name, name):
            deps.append(target)
        elif isinstance(target, str):
            external.append(target)
    return _Symbol(own, list(dict.fromkeys(deps)), sorted(set(external)))


def _lookup(module: str, name: str) -> tuple[_Module, list[ast.stmt]] | None:
    """The statements that define `module.name`, following re-exports
    (`from .impl import name` in the module we were pointed at)."""
    seen: set[tuple[str, str]] = set()
    while (module, name) not in seen:
        seen.add((module, name))
        info = _parse(module)
        if info is None:
            return None
        stmts = info.defs.get(name)
        if stmts:
            return info, stmts
        binding = info.imports.get(name)
        if binding is None or binding[1] is None:
            return None
        module, name = binding[0], binding[1]
    return None


# --- the key ---------------------------------------------------------------------

_KEYS: dict[Callable[..., Any], str] = {}


def code_hash(fn: Callable[..., Any]) -> str:
    """Hex digest of `fn`'s code and the same-pack code it reaches (cached per function,
    and across processes in the store of `code_keys`)."""
    hit = _KEYS.get(fn)
    if hit is not None:
        return hit
    try:
        key = _stored_or_computed(inspect.unwrap(fn))
    except Exception:  # code we cannot analyse: key on its whole module, as before
        key = _module_fallback(fn)
    try:
        _KEYS[fn] = key
    except TypeError:
        pass
    return key


def _module_fallback(fn: Callable[..., Any]) -> str:
    h = hashlib.blake2b(SCHEME + b"\0module", digest_size=16)
    module = getattr(fn, "__module__", None) or ""
    h.update(_source(module) or getattr(fn, "__qualname__", repr(fn)).encode())
    return h.hexdigest()


def _root_def(fn: Callable[..., Any]) -> tuple[_Module, str, list[ast.stmt]] | None:
    module = getattr(fn, "__module__", None) or ""
    info = _parse(module)
    if info is None:
        return None
    qual = getattr(fn, "__qualname__", "")
    if "." not in qual and qual in info.defs:
        stmts = [s for s in info.defs[qual] if isinstance(s, _DEF_TYPES)] or info.defs[qual]
        return info, qual, stmts[-1:]
    code = getattr(fn, "__code__", None)
    found = info.def_at(code.co_firstlineno) if code is not None else None
    if found is None:
        return None
    return info, f"<{qual}>", [found]


def _compute(fn: Callable[..., Any]) -> str:
    h = hashlib.blake2b(SCHEME, digest_size=16)
    found = _root_def(fn)
    if found is None:
        # No source file (built at run time): fall back to the function's source or name.
        try:
            h.update(inspect.getsource(fn).encode())
        except (OSError, TypeError):
            h.update(getattr(fn, "__qualname__", repr(fn)).encode())
        return h.hexdigest()
    info, name, stmts = found
    root = pack_root(info.name)
    first = _symbol(info, name, stmts, root, root_def=True)
    h.update(first.own)
    seen: dict[tuple[str, str], bytes] = {}
    external: set[str] = set(first.external)
    stack = list(first.deps)
    while stack:
        dep = stack.pop()
        if dep in seen:
            continue
        looked = _lookup(*dep)
        if looked is None:
            seen[dep] = b"?"  # a name we cannot see (set at run time): its name only
            continue
        dep_info, dep_stmts = looked
        sym = _symbol(dep_info, dep[1], dep_stmts, root, root_def=False)
        seen[dep] = sym.own
        external.update(sym.external)
        stack.extend(d for d in sym.deps if d not in seen)
    for (module, name), own in sorted(seen.items()):
        rel = module[len(root) :] if module.startswith(root) else module
        h.update(f"\0{rel}:{name}=".encode() + own)
    for ext in sorted(external):
        h.update(f"\0{ext}".encode())
    return h.hexdigest()


# --- keys kept across processes ------------------------------------------------------
#
# Parsing and scanning a pack's modules costs every process ~0.3 s of CPU (1.2 s on a
# busy machine) before its first run: each `reelgraph run`, batch and Ray worker. A key
# is a function of the sources it read, so the store keeps, per function, the key and
# what it was computed from: the digest of every module source parsed on the way and
# the answer of every "is this a module?" check. A stored key is used only when all of
# them are the same in this process; anything else computes it afresh.

_RECORD = threading.local()
_STORE: dict[str, Any] | None = None
_STORE_NEW: dict[str, Any] = {}
_STORE_LOCK = threading.Lock()
STORE_ENV = "REELGRAPH_CODE_KEYS"  # "0": no store (always compute)


def _note(kind: str, name: str, value: Any) -> None:
    seen = getattr(_RECORD, "seen", None)
    if seen is not None:
        seen.setdefault(f"{kind}:{name}", value)


def _store_path() -> Path:
    from .models import compiled_dir

    # this file's own source too: a change to how keys are made never meets old ones
    own = _source(__name__) or b""
    tag = hashlib.blake2b(SCHEME + sys.version.encode() + own, digest_size=6).hexdigest()
    return compiled_dir() / "code-keys" / f"{tag}.json"


def _store() -> dict[str, Any]:
    global _STORE
    with _STORE_LOCK:
        if _STORE is None:
            try:
                loaded = json.loads(_store_path().read_text(encoding="utf-8"))
                _STORE = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                _STORE = {}
            atexit.register(save_code_keys)
        return _STORE


def _still_valid(inputs: dict[str, Any]) -> bool:
    for item, want in inputs.items():
        kind, _, name = item.partition(":")
        if kind == "mod":
            if _exists(name) != want:
                return False
            continue
        data = _source(name)
        if data is None:
            if want is not None:
                return False
            continue
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if want != _source_tag(digest, _is_package(name)):
            return False
    return True


def _stored_or_computed(fn: Callable[..., Any]) -> str:
    code = getattr(fn, "__code__", None)
    module = getattr(fn, "__module__", None)
    if os.environ.get(STORE_ENV) == "0" or code is None or not module:
        return _compute(fn)
    ident = f"{module}:{getattr(fn, '__qualname__', '')}:{code.co_firstlineno}"
    entry = _store().get(ident)
    inputs = entry.get("inputs") if isinstance(entry, dict) else None
    if isinstance(inputs, dict) and _still_valid(inputs):
        return str(entry["key"])
    _RECORD.seen = {}
    try:
        key = _compute(fn)
        inputs = _RECORD.seen
    finally:
        _RECORD.seen = None
    if f"src:{module}" in inputs:  # keyed on sources it read (not a run-time fallback)
        with _STORE_LOCK:
            _STORE_NEW[ident] = {"key": key, "inputs": inputs}
    return key


def save_code_keys() -> None:
    """Write the keys computed in this process to the store (merged with what other
    processes wrote meanwhile; staged, then renamed). Also run at exit."""
    with _STORE_LOCK:
        if not _STORE_NEW:
            return
        new = dict(_STORE_NEW)
        _STORE_NEW.clear()
    path = _store_path()
    try:
        merged = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(merged, dict):
            merged = {}
    except (OSError, ValueError):
        merged = {}
    merged.update(new)
    part = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        part.write_text(json.dumps(merged, separators=(",", ":")), encoding="utf-8")
        os.replace(part, path)
    except OSError:
        try:
            part.unlink(missing_ok=True)
        except OSError:
            pass
    with _STORE_LOCK:
        if _STORE is not None:
            _STORE.update(new)


def clear_caches() -> None:
    """Forget every parse and key (tests; a long-lived process that reloads packs)."""
    global _STORE
    _KEYS.clear()
    _PARSED.clear()
    _SYMBOLS.clear()
    with _STORE_LOCK:
        _STORE = None
        _STORE_NEW.clear()


__all__ = ["code_hash", "pack_root", "save_code_keys", "snapshot_pack"]
