"""Files that ship inside the package: the editor (web/) and the shipped workflows.

Found through importlib.resources, so a wheel installed anywhere finds them the
same way an editable checkout does.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def package_folder(name: str) -> Path:
    """The real folder `reelgraph/<name>` (web, workflows) of this installation."""
    folder = Path(str(files("reelgraph").joinpath(name)))
    if not folder.is_dir():
        raise FileNotFoundError(
            f"reelgraph is installed without its {name}/ folder (looked in {folder})"
        )
    return folder


def web_folder() -> Path:
    return package_folder("web")


def workflows_folder() -> Path:
    return package_folder("workflows")


def shipped_workflows() -> dict[str, Path]:
    """Shipped workflows by name (the file stem): `explainer` -> .../workflows/explainer.json."""
    return {p.stem: p for p in sorted(workflows_folder().glob("*.json"))}


def shipped_workflow(name: str) -> Path | None:
    """The shipped workflow called `name` (with or without `.json`), or None."""
    stem = name[: -len(".json")] if name.endswith(".json") else name
    if not stem or "/" in stem or "\\" in stem or stem.startswith("."):
        return None
    path = workflows_folder() / f"{stem}.json"
    return path if path.is_file() else None
