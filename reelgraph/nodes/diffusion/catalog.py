"""What is on disk: the models in the models folder, the pipeline class each declares, the
COMBO options per task (listed again only when the folders change), and the check that a
named model is there, complete and fit for a task - all before anything loads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reelgraph import models as M

from .families import CKPT_PREFIX, TASK_NAMES, supports

_JSON_MEMO: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}


def read_json(path: Path) -> dict[str, Any]:
    """A config file as a dict ({} when missing); parsed again only when the file changes."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    stamp = (st.st_mtime_ns, st.st_size)
    hit = _JSON_MEMO.get(path)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    data = json.loads(path.read_text())
    data = data if isinstance(data, dict) else {}
    _JSON_MEMO[path] = (stamp, data)
    return data


def checkpoint_class(path: Path) -> str:
    """SD or SDXL, from the tensor names in a single-file checkpoint's header."""
    if not path.is_file() or path.suffix.lower() != ".safetensors":
        return ""
    try:
        with path.open("rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 0 < n < 200 << 20:
                return ""
            header = json.loads(f.read(n))
    except (OSError, ValueError):
        return ""
    keys = header.keys() if isinstance(header, dict) else ()
    if any(k.startswith("conditioner.embedders.1") for k in keys):
        return "StableDiffusionXLPipeline"
    if any(k.startswith("model.diffusion_model.") for k in keys):
        return "StableDiffusionPipeline"
    return ""


def model_class(name: str) -> str:
    """The pipeline class a model folder declares (model_index.json `_class_name`)."""
    if name.startswith(CKPT_PREFIX):
        return checkpoint_class(M.model_folder("checkpoints") / name[len(CKPT_PREFIX) :])
    try:
        path = M.resolve("diffusers", name)
    except M.ModelNotFound:
        return ""
    try:
        return str(read_json(path / "model_index.json").get("_class_name", ""))
    except (OSError, ValueError):
        return ""


def model_path(name: str) -> Path:
    """The folder (or checkpoint file) a model name stands for; raises ModelNotFound."""
    if name.startswith(CKPT_PREFIX):
        return M.resolve("checkpoints", name[len(CKPT_PREFIX) :])
    return M.resolve("diffusers", name)


# (task, models folder) -> (stamp of the listing, the options): the COMBO lists, memoised.
_OPTIONS: dict[tuple[str, str], tuple[tuple[Any, ...], list[str]]] = {}

_ALL: dict[str, list[str]] = {}  # every diffusers folder per models folder, for the stamp


def _listing_stamp(listed: list[str]) -> tuple[Any, ...]:
    """Changes when a model folder or checkpoint is added, removed or renamed: the mtimes of
    the folders that hold them (and of each model's model_index.json, which names its class)."""

    def mtime(p: Path) -> int:
        try:
            return p.stat().st_mtime_ns
        except OSError:
            return -1

    d, c = M.model_folder("diffusers"), M.model_folder("checkpoints")
    orgs = {n.split("/")[0] for n in listed if "/" in n}
    return (
        mtime(d),
        mtime(c),
        *(mtime(d / o) for o in sorted(orgs)),
        *(mtime(d / n / "model_index.json") for n in listed if not n.startswith(CKPT_PREFIX)),
    )


def model_options(task: str) -> list[str]:
    """Models on disk usable for `task` (diffusers folders; SD/SDXL checkpoints for images).
    Listed again only when the folders change (checkpoints in subfolders: when the top one does)."""
    key = (task, str(M.models_dir().resolve()))
    hit = _OPTIONS.get(key)
    if hit is not None and hit[0] == _listing_stamp(hit[1] + _ALL.get(key[1], [])):
        return list(hit[1])
    everything = M.diffusers_models()
    _ALL[key[1]] = everything
    out = [n for n in everything if supports(model_class(n), task)]
    if task in ("t2i", "i2i"):
        out += [CKPT_PREFIX + f for f in M.checkpoint_files((".safetensors",))]
    _OPTIONS[key] = (_listing_stamp(out + everything), out)
    return list(out)


def t2i_options() -> list[str]:
    return model_options("t2i")


def i2i_options() -> list[str]:
    return model_options("i2i")


def t2v_options() -> list[str]:
    return model_options("t2v")


def i2v_options() -> list[str]:
    return model_options("i2v")


def check_model(name: str, task: str) -> str | None:
    """None when `name` is a usable model for `task`, else what is wrong (naming the folder)."""
    if name.startswith(CKPT_PREFIX):
        folder = M.model_folder("checkpoints")
        path = folder / name[len(CKPT_PREFIX) :]
        if not path.is_file():
            return f"checkpoint {path.name!r} is missing: expected {path} in {folder.resolve()}"
        if task not in ("t2i", "i2i"):
            return (
                "single-file checkpoints are supported for images (SD 1.x/2.x, SDXL); put video models in "
                f"{M.model_folder('diffusers').resolve()} as diffusers folders"
            )
        if not checkpoint_class(path):
            return (
                f"{path} is not a readable SD 1.x/2.x or SDXL .safetensors checkpoint; convert other "
                f"models to a diffusers folder in {M.model_folder('diffusers').resolve()}"
            )
        return None
    try:
        path = M.resolve("diffusers", name)
    except M.ModelNotFound as exc:
        return str(exc)
    try:
        index = json.loads((path / "model_index.json").read_text())
        if not isinstance(index, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        return f"{path / 'model_index.json'} is malformed ({exc}); re-save the pipeline with save_pretrained"
    missing = [
        k
        for k, v in index.items()
        if not k.startswith("_")
        and isinstance(v, list)
        and len(v) == 2
        and v[0] is not None
        and not (path / k).is_dir()
    ]
    if missing:
        return (
            f"model folder {path} is incomplete: no subfolder for {', '.join(sorted(missing))} "
            "(listed in model_index.json)"
        )
    cls = str(index.get("_class_name", ""))
    if not supports(cls, task):
        return f"model {name!r} is a {cls or 'pipeline of unknown class'}, not a {TASK_NAMES[task]} model"
    return None
