"""`--confine-loaders`: loader nodes may read only the uploads and models folders.

For a local tool a loader reading any path the server can read is the point
(your own files). A server shared by a team should not hand every user every
file the server's account can read, so with this option each file input of a
loader (a text or combo widget declared with `upload=`, or a `path` / `folder`
/ `file` input of a node with a fingerprint hook) must resolve, symlinks
followed, inside one of the allowed folders.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FILE_INPUT_NAMES = frozenset({"path", "folder", "file", "filename", "directory", "dir"})


def is_file_input(node_type: Any, spec: Any) -> bool:
    widget = getattr(spec, "widget", None)
    if widget is None:
        return False
    if getattr(widget, "upload", ""):
        return True
    return node_type.fingerprint is not None and spec.name in FILE_INPUT_NAMES


def outside_roots(plan: Any, roots: Iterable[Path]) -> list[Any]:
    """Issues for every loader file input of the plan that leaves the allowed folders."""
    from reelgraph.engine import Issue

    allowed = [Path(os.path.realpath(r)) for r in roots]
    issues = []
    for pn in plan.nodes.values():
        for spec in pn.type.inputs:
            value = pn.literals.get(spec.name)
            if not isinstance(value, str) or not value or not is_file_input(pn.type, spec):
                continue
            real = None if "\x00" in value else Path(os.path.realpath(value))
            if real is None or not any(real == a or a in real.parents for a in allowed):
                issues.append(
                    Issue(
                        "path_not_allowed",
                        f"{value!r} is outside the folders loaders may read on this server "
                        f"(--confine-loaders: {', '.join(str(a) for a in allowed)})",
                        node=pn.id,
                        input=spec.name,
                    )
                )
    return issues
