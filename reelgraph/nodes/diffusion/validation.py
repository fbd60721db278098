"""Validation hooks of the generative nodes: the model, geometry and scheduler checks at
validation (before anything loads) and again at run time for values that came over links;
the model's files in the fingerprint; where a missing model belongs."""

from __future__ import annotations

from typing import Any

from reelgraph import NodeInputError
from reelgraph import models as M

from .catalog import check_model, model_path
from .families import TASK_NAMES
from .geometry import check_geometry
from .schedulers import check_scheduler


def missing_model_hint(task: str) -> Any:
    """Where a model for `task` should be, for the drop-down's error message."""

    def hint() -> str:
        where = (
            f"put a diffusers folder (model_index.json) in {M.model_folder('diffusers').resolve()}"
        )
        if task in ("t2i", "i2i"):
            where += f" or an SD/SDXL .safetensors in {M.model_folder('checkpoints').resolve()}"
        return f"no such {TASK_NAMES[task]} model: {where}"

    return hint


def validator(task: str, frames: bool) -> Any:
    def validate(values: dict[str, Any]) -> list[tuple[str, str]]:
        name = values.get("model")
        if name is None:
            return []  # linked from another node: checked when it arrives (check_runtime)
        problem = check_model(str(name), task)
        if problem:
            return [("model", problem)]
        out = check_geometry(
            str(name),
            int(values.get("width") or 0),
            int(values.get("height") or 0),
            int(values["frames"]) if frames and values.get("frames") else None,
        )
        if sp := check_scheduler(str(name), str(values.get("scheduler", "default"))):
            out.append(("scheduler", sp))
        if values.get("offload", "none") != "none" and values.get("device") == "cpu":
            out.append(
                (
                    "offload",
                    "offloading moves weights between the CPU and a GPU; on the cpu device "
                    "choose none",
                )
            )
        return out

    return validate


def model_fingerprint(values: dict[str, Any]) -> str:
    """Replacing a model's files re-runs the nodes that used it."""
    try:
        return M.files_fingerprint(model_path(str(values.get("model", ""))))
    except (M.ModelNotFound, OSError):
        return ""


def check_runtime(
    name: str, task: str, width: int, height: int, frames: int | None, scheduler: str
) -> None:
    """The validation checks again, for values that arrived over links."""
    problem = check_model(name, task)
    if problem:
        raise NodeInputError("model", problem)
    for key, msg in check_geometry(name, width, height, frames):
        raise NodeInputError(key, msg)
    if sp := check_scheduler(name, scheduler):
        raise NodeInputError("scheduler", sp)
