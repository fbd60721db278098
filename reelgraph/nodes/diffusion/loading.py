"""Loading pipelines through the shared model cache: from_pretrained for diffusers folders,
from_single_file for checkpoints, offline unless downloads are allowed, quiet, placed on the
device or offloaded. Keyed by folder + files + device + dtype + offload, so every node and run
asking for the same model reuses one pipeline; other tasks on the same folder derive theirs
with from_pipe (shared modules, no second load)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reelgraph import NodeInputError
from reelgraph import models as M

from .catalog import model_class, model_path
from .families import CKPT_PREFIX, T2I_CLASSES, TASK_NAMES, VIDEO_FAMILIES

OFFLOAD = ("none", "model", "sequential", "group")


@dataclass(frozen=True)
class LoadOptions:
    device: str = "auto"
    dtype: str = "auto"
    offload: str = "none"


def cache_key(name: str, opts: LoadOptions) -> tuple[Any, ...]:
    path = model_path(name)
    device = M.pick_device(opts.device)
    return (
        "diffusers",
        str(path.resolve()),
        M.files_fingerprint(path),
        device,
        opts.dtype,
        opts.offload,
    )


def load_pipeline(name: str, opts: LoadOptions, device: str) -> Any:
    """A fresh pipeline for the model cache to keep: offline unless downloads are allowed."""
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    dtype = M.pick_dtype(opts.dtype, device)
    local_only = not M.downloads_allowed()
    # Nodes never print: no progress bars, and diffusers' "expected types" chatter stays quiet.
    dlog.disable_progress_bar()
    tlog.disable_progress_bar()
    levels = dlog.get_verbosity(), tlog.get_verbosity()
    dlog.set_verbosity_error()
    tlog.set_verbosity_error()
    try:
        return _load_quiet(name, opts, device, dtype, local_only)
    finally:
        dlog.set_verbosity(levels[0])
        tlog.set_verbosity(levels[1])


def _load_quiet(name: str, opts: LoadOptions, device: str, dtype: Any, local_only: bool) -> Any:
    import diffusers
    import torch

    # diffusers 0.42 renamed torch_dtype to dtype; older releases only know torch_dtype.
    dtype_kw = (
        "dtype"
        if tuple(int(x) for x in diffusers.__version__.split(".")[:2]) >= (0, 42)
        else "torch_dtype"
    )
    path = model_path(name)
    cls_name = model_class(name)
    cls = getattr(diffusers, cls_name, None) or diffusers.DiffusionPipeline
    if name.startswith(CKPT_PREFIX):
        kwargs: dict[str, Any] = {dtype_kw: dtype, "local_files_only": local_only}
        yaml = path.with_suffix(".yaml")
        if yaml.is_file():
            kwargs["original_config"] = str(yaml)
        config = path.with_suffix("")  # a diffusers folder beside it supplies the configs offline
        if (config / "model_index.json").is_file():
            kwargs["config"] = str(config)
        try:
            pipe = cls.from_single_file(str(path), **kwargs)
        except Exception as exc:
            raise NodeInputError(
                "model",
                f"could not load {path} with from_single_file: {exc}. Offline, "
                f"diffusers needs the model's configs: put a diffusers folder named {config.name} "
                f"(model_index.json + configs) beside it, or set {M.ALLOW_DOWNLOADS_ENV}=1 "
                "once to fetch them",
            ) from None
    else:
        try:
            pipe = cls.from_pretrained(str(path), **{dtype_kw: dtype}, local_files_only=local_only)
        except Exception as exc:  # broken or partial weights: name the folder, keep the cause
            raise NodeInputError(
                "model", f"could not load {path}: {type(exc).__name__}: {exc}"
            ) from None
    pipe.set_progress_bar_config(disable=True)
    if opts.offload == "none":
        if device != "cpu":  # loaded on the CPU already
            pipe.to(device)
    elif opts.offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif opts.offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    elif opts.offload == "group" and hasattr(pipe, "enable_group_offload"):
        # diffusers' group offloading: leaf modules stream to the device as they run (CUDA streams
        # overlap the copies with compute).
        pipe.enable_group_offload(
            onload_device=torch.device(device),
            offload_device=torch.device("cpu"),
            offload_type="leaf_level",
            use_stream=device.startswith("cuda"),
        )
    elif opts.offload == "group":  # older diffusers: per model
        for comp in pipe.components.values():
            if isinstance(comp, torch.nn.Module):
                if hasattr(comp, "enable_group_offload"):
                    comp.enable_group_offload(
                        onload_device=torch.device(device),
                        offload_device=torch.device("cpu"),
                        offload_type="leaf_level",
                    )
                else:
                    comp.to(device)
    return pipe


class Loaded:
    """A pipeline from the model cache, pinned and locked while a node drives it."""

    def __init__(self, name: str, opts: LoadOptions):
        if opts.offload != "none" and M.pick_device(opts.device) == "cpu":
            raise NodeInputError(
                "offload",
                "offloading moves weights between the CPU and a GPU; on the cpu device choose none",
            )
        self.name, self.opts = name, opts
        self.device = M.pick_device(opts.device)
        self.key = cache_key(name, opts)
        self._cm: Any = None

    def __enter__(self) -> Any:
        self._cm = M.model_cache().use(
            self.key,
            lambda: load_pipeline(self.name, self.opts, self.device),
            device=self.device if self.opts.offload == "none" else "cpu",
        )
        self.entry = self._cm.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._cm.__exit__(*exc)

    @property
    def base(self) -> Any:
        return self.entry.value

    def pipeline(self, task: str) -> Any:
        """The pipeline for a task: the loaded one, or one derived from it sharing its modules."""
        import diffusers

        base = self.base
        cls = type(base).__name__
        fam = VIDEO_FAMILIES.get(cls)
        if task == "t2i" and cls in T2I_CLASSES:
            return base
        if task in ("t2v", "i2v") and fam is not None and fam.task == task:
            return base
        derived = self.entry.derived
        if task not in derived:
            if task == "t2i":
                derived[task] = diffusers.AutoPipelineForText2Image.from_pipe(base)
            elif task == "i2i":
                derived[task] = diffusers.AutoPipelineForImage2Image.from_pipe(base)
            elif task == "i2v" and fam is not None and fam.i2v:
                derived[task] = getattr(diffusers, fam.i2v).from_pipe(base)
            else:
                raise NodeInputError(
                    "model", f"model {self.name!r} ({cls}) cannot do {TASK_NAMES[task]}"
                )
            derived[task].set_progress_bar_config(disable=True)
        return derived[task]
