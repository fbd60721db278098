"""What a command accepts as "a workflow": a workflow JSON file, the name of a shipped
workflow (`explainer`), or a PNG, WAV or video that carries the workflow that made it.

`reelgraph run`, `validate` and `batch` all go through `open_workflow`, so they accept
the same things and fail with the same clear errors.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import Issue, WorkflowError
from .media.metadata import NotMediaError, embedded_workflow_text
from .resources import shipped_workflow, shipped_workflows
from .workflow import Workflow, load_workflow, loads_workflow

_JSON_STARTS = (b"{", b"\xef\xbb\xbf{")  # an object, with or without a UTF-8 BOM


def _fail(code: str, message: str, file: str) -> WorkflowError:
    return WorkflowError([Issue(code, message, file=file)])


def _is_json(path: Path) -> bool:
    if path.suffix.lower() == ".json":
        return True
    with path.open("rb") as f:
        return f.read(64).lstrip(b" \t\r\n").startswith(_JSON_STARTS)


def _from_media(path: Path) -> Workflow:
    try:
        text = embedded_workflow_text(path)
    except NotMediaError as exc:
        raise _fail("not_a_workflow", f"not a workflow JSON, and {exc}", str(path)) from None
    except (OSError, ValueError) as exc:
        raise _fail(
            "unreadable", f"cannot read the workflow it carries: {exc}", str(path)
        ) from None
    if text is None:
        raise _fail(
            "no_embedded_workflow",
            f"{path.name} carries no reelgraph workflow (it was written without one, e.g. by "
            "video.Encode with embed_workflow off, or by another program)",
            str(path),
        )
    return loads_workflow(text, str(path))


def open_workflow(source: str | os.PathLike[str]) -> Workflow:
    """Load the workflow `source` names; a WorkflowError saying what is wrong otherwise.

    An existing path always wins over a shipped workflow of the same name."""
    path = Path(source)
    if path.is_dir():
        raise _fail("unreadable", "cannot read: this is a folder, not a workflow file", str(path))
    if path.is_file():
        try:
            is_json = _is_json(path)
        except OSError as exc:
            raise _fail("unreadable", f"cannot read: {exc.strerror or exc}", str(path)) from None
        return load_workflow(path) if is_json else _from_media(path)
    shipped = shipped_workflow(str(source))
    if shipped is not None:
        return load_workflow(shipped)
    names = ", ".join(shipped_workflows()) or "none"
    raise _fail(
        "unreadable",
        f"cannot read: no such file, and no shipped workflow is called {str(source)!r} "
        f"(shipped: {names})",
        str(path),
    )
