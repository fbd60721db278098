"""Generative nodes (diffusers): text-to-image, image-to-image, text-to-video, image-to-video.

Models come from the models folder (engine.models): diffusers folders under
`models/diffusers/`, single-file SD/SDXL checkpoints under `models/checkpoints/`.
The model is a COMBO widget on each node (listing what is on disk for that task);
loaded pipelines live in the shared model cache keyed by folder + device + dtype +
offload, so every node and run asking for the same model reuses one pipeline. A
text-to-image node and an image-to-image node on the same folder share modules
(`from_pipe`), as do LTX text- and image-to-video.

Frame and size rules are read from the model's own configs (VAE compression x
patch size), so they are the real ones: LTX frames 8k+1 and sizes divisible by
32, Wan and CogVideoX frames 4k+1 and sizes divisible by 16, SD sizes by 8.
They are checked at validation, before anything loads.

Every step reports progress and a latent preview and is a cancellation point
(`callback_on_step_end`). Seeds are explicit widgets: the same seed on the same
device gives the same pixels.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from reelgraph import (
    IMAGE,
    INT,
    VIDEO,
    AnyValue,
    Audio,
    Bool,
    Combo,
    Context,
    Float,
    Image,
    Int,
    NodeInputError,
    Seed,
    Text,
    Video,
    node,
)
from reelgraph import models as M

# --- families ----------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    label: str
    task: str  # "image" | "t2v" | "i2v"
    layout: str = "bchw"  # latent layout for previews: bchw | bcfhw | bfchw | packed
    fps: float = 24.0  # the frame rate the family is trained for (default output fps)
    prompt: bool = True
    i2v: str | None = None  # image-to-video pipeline sharing this folder's modules


# Text-to-image classes loaded as they are; anything else AutoPipeline resolves also works.
T2I_CLASSES = (
    "StableDiffusionPipeline",
    "StableDiffusionXLPipeline",
    "StableDiffusion3Pipeline",
    "FluxPipeline",
    "PixArtAlphaPipeline",
    "PixArtSigmaPipeline",
    "LatentConsistencyModelPipeline",
    "KolorsPipeline",
    "HunyuanDiTPipeline",
    "AuraFlowPipeline",
    "SanaPipeline",
    "Lumina2Pipeline",
    "CogView4Pipeline",
    "KandinskyV22CombinedPipeline",
    "StableCascadeCombinedPipeline",
    "QwenImagePipeline",
    "ChromaPipeline",
)
I2I_CLASSES = (
    "StableDiffusionPipeline",
    "StableDiffusionXLPipeline",
    "StableDiffusion3Pipeline",
    "FluxPipeline",
    "LatentConsistencyModelPipeline",
    "KolorsPipeline",
    "KandinskyV22CombinedPipeline",
    "QwenImagePipeline",
    "ChromaPipeline",
    "StableDiffusionImg2ImgPipeline",
    "StableDiffusionXLImg2ImgPipeline",
)
VIDEO_FAMILIES: dict[str, Family] = {
    "AnimateDiffPipeline": Family("AnimateDiff", "t2v", "bcfhw", 8.0),
    "LTXPipeline": Family("LTX-Video", "t2v", "packed", 24.0, i2v="LTXImageToVideoPipeline"),
    "LTXImageToVideoPipeline": Family("LTX-Video", "i2v", "packed", 24.0),
    "WanPipeline": Family("Wan", "t2v", "bcfhw", 16.0),
    "WanImageToVideoPipeline": Family("Wan", "i2v", "bcfhw", 16.0),
    "CogVideoXPipeline": Family("CogVideoX", "t2v", "bfchw", 8.0),
    "CogVideoXImageToVideoPipeline": Family("CogVideoX", "i2v", "bfchw", 8.0),
    "StableVideoDiffusionPipeline": Family(
        "Stable Video Diffusion", "i2v", "bfchw", 7.0, prompt=False
    ),
}
# Image models whose latents travel packed 2x2 into a token sequence.
PACKED_IMAGE_CLASSES = ("FluxPipeline", "ChromaPipeline", "QwenImagePipeline")
TASKS = ("t2i", "i2i", "t2v", "i2v")
TASK_NAMES = {
    "t2i": "text-to-image",
    "i2i": "image-to-image",
    "t2v": "text-to-video",
    "i2v": "image-to-video",
}
CKPT_PREFIX = "checkpoints/"


_JSON_MEMO: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}


def _read_json(path: Path) -> dict[str, Any]:
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


def model_class(name: str) -> str:
    """The pipeline class a model folder declares (model_index.json `_class_name`)."""
    if name.startswith(CKPT_PREFIX):
        return _checkpoint_class(M.model_folder("checkpoints") / name[len(CKPT_PREFIX) :])
    try:
        path = M.resolve("diffusers", name)
    except M.ModelNotFound:
        return ""
    try:
        return str(_read_json(path / "model_index.json").get("_class_name", ""))
    except (OSError, ValueError):
        return ""


def supports(cls: str, task: str) -> bool:
    fam = VIDEO_FAMILIES.get(cls)
    if task == "t2i":
        return cls in T2I_CLASSES
    if task == "i2i":
        return cls in I2I_CLASSES
    if task == "t2v":
        return fam is not None and fam.task == "t2v"
    return fam is not None and (fam.task == "i2v" or fam.i2v is not None)


_OPTIONS: dict[tuple[str, str], tuple[tuple[Any, ...], list[str]]] = {}


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


_ALL: dict[str, list[str]] = {}  # every diffusers folder per models folder, for the stamp


def _t2i_options() -> list[str]:
    return model_options("t2i")


def _i2i_options() -> list[str]:
    return model_options("i2i")


def _t2v_options() -> list[str]:
    return model_options("t2v")


def _i2v_options() -> list[str]:
    return model_options("i2v")


def _checkpoint_class(path: Path) -> str:
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


# --- checking a model before anything loads ----------------------------------------


def _model_path(name: str) -> Path:
    if name.startswith(CKPT_PREFIX):
        return M.resolve("checkpoints", name[len(CKPT_PREFIX) :])
    return M.resolve("diffusers", name)


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
        if not _checkpoint_class(path):
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


@dataclass(frozen=True)
class Geometry:
    size_multiple: int
    frame_multiple: int = 0  # frames must be frame_multiple*k + 1 (0: any count)
    max_frames: int = 0  # 0: no limit


def geometry(name: str) -> Geometry:
    """Size and frame rules of a model, from its VAE / denoiser configs."""
    if name.startswith(CKPT_PREFIX):
        return Geometry(8)
    path = M.resolve("diffusers", name)
    cls = model_class(name)
    vae = _read_json(path / "vae" / "config.json")
    den = _read_json(path / "transformer" / "config.json") or _read_json(
        path / "unet" / "config.json"
    )
    blocks = vae.get("block_out_channels") or [0, 0, 0, 0]
    spatial = 2 ** (len(blocks) - 1)
    if cls.startswith("LTX"):
        ups = sum(bool(x) for x in vae.get("spatio_temporal_scaling", (1, 1, 1, 0)))
        s = vae.get("spatial_compression_ratio") or vae.get("patch_size", 4) * 2**ups
        t = vae.get("temporal_compression_ratio") or vae.get("patch_size_t", 1) * 2**ups
        p = den.get("patch_size", 1)
        return Geometry(int(s * p), int(t * den.get("patch_size_t", 1)))
    if cls.startswith("Wan"):
        s = vae.get("scale_factor_spatial") or 2 ** len(vae.get("temperal_downsample", [0, 0, 0]))
        t = vae.get("scale_factor_temporal") or 2 ** sum(
            bool(x) for x in vae.get("temperal_downsample", [0, 1, 1])
        )
        patch = den.get("patch_size", [1, 2, 2])
        return Geometry(int(s * patch[-1]), int(t * patch[0]))
    if cls.startswith("CogVideoX"):
        return Geometry(
            int(spatial * den.get("patch_size", 2)), int(vae.get("temporal_compression_ratio", 4))
        )
    if cls in PACKED_IMAGE_CLASSES:  # latents packed 2x2 into tokens
        return Geometry(int(spatial * 2 * den.get("patch_size", 1)))
    if den.get("patch_size") and "transformer" in _read_json(path / "model_index.json"):
        return Geometry(int(spatial * den["patch_size"]))  # SD3, PixArt, ...
    if cls == "AnimateDiffPipeline":
        adapter = _read_json(path / "motion_adapter" / "config.json")
        return Geometry(spatial, 0, int(adapter.get("motion_max_seq_length", 32)))
    return Geometry(spatial)


def check_geometry(name: str, width: int, height: int, frames: int | None) -> list[tuple[str, str]]:
    try:
        g = geometry(name)
    except (M.ModelNotFound, OSError, ValueError, TypeError):
        return []
    label = VIDEO_FAMILIES.get(model_class(name), Family(model_class(name) or name, "image")).label
    out: list[tuple[str, str]] = []
    for key, v in (("width", width), ("height", height)):
        if v and v % g.size_multiple:
            lo = v // g.size_multiple * g.size_multiple
            out.append(
                (
                    key,
                    f"{label} needs {key} divisible by {g.size_multiple}, got {v} "
                    f"(try {lo or g.size_multiple} or {lo + g.size_multiple})",
                )
            )
    if frames is not None:
        m = g.frame_multiple
        if m and (frames - 1) % m:
            k = max(0, (frames - 1) // m)
            out.append(
                (
                    "frames",
                    f"{label} needs frames = {m}k+1, got {frames} "
                    f"(try {k * m + 1} or {(k + 1) * m + 1})",
                )
            )
        if g.max_frames and frames > g.max_frames:
            out.append(
                (
                    "frames",
                    f"{label} makes at most {g.max_frames} frames (its motion module's "
                    f"length), got {frames}",
                )
            )
    return out


FLOW_SCHEDULERS = ("flow_euler", "flow_unipc")
EPS_SCHEDULERS = (
    "euler",
    "euler_ancestral",
    "dpm++_2m",
    "dpm++_2m_karras",
    "dpm++_sde",
    "ddim",
    "unipc",
    "pndm",
    "lms",
    "heun",
    "lcm",
)
SCHEDULERS = ("default", *EPS_SCHEDULERS, *FLOW_SCHEDULERS)
_EPS_BASES = {
    "DDIMScheduler",
    "DDPMScheduler",
    "PNDMScheduler",
    "LMSDiscreteScheduler",
    "EulerDiscreteScheduler",
    "HeunDiscreteScheduler",
    "EulerAncestralDiscreteScheduler",
    "DPMSolverMultistepScheduler",
    "DPMSolverSinglestepScheduler",
    "KDPM2DiscreteScheduler",
    "UniPCMultistepScheduler",
    "DEISMultistepScheduler",
    "LCMScheduler",
}


def scheduler_kind(name: str) -> str:
    """ "eps" (SD-style noise schedules, all interchangeable), "flow" (flow matching) or
    "fixed" (a model-specific scheduler that must stay)."""
    if name.startswith(CKPT_PREFIX):
        return "eps"
    cfg = _read_json(M.resolve("diffusers", name) / "scheduler" / "scheduler_config.json")
    cls = str(cfg.get("_class_name", ""))
    if (
        cls.startswith("FlowMatch")
        or cfg.get("use_flow_sigmas")
        or cfg.get("prediction_type") == "flow_prediction"
    ):
        return "flow"
    if cls in _EPS_BASES and cfg.get("timestep_type") != "continuous":
        return "eps"
    return "fixed"


def check_scheduler(name: str, scheduler: str) -> str | None:
    if scheduler == "default":
        return None
    try:
        kind = scheduler_kind(name)
    except (M.ModelNotFound, OSError, ValueError):
        return None
    allowed = {"eps": EPS_SCHEDULERS, "flow": FLOW_SCHEDULERS}.get(kind, ())
    if scheduler not in allowed:
        return (
            f"scheduler {scheduler!r} does not fit this model ({kind} schedule); choose default"
            + (f" or one of {', '.join(allowed)}" if allowed else "")
        )
    return None


def make_scheduler(base: Any, choice: str) -> Any:
    """A fresh scheduler for one call: `choice` built from the model's scheduler config."""
    import diffusers

    config = dict(base.config)
    table: dict[str, tuple[str, dict[str, Any]]] = {
        "euler": ("EulerDiscreteScheduler", {}),
        "euler_ancestral": ("EulerAncestralDiscreteScheduler", {}),
        "dpm++_2m": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++"}),
        "dpm++_2m_karras": (
            "DPMSolverMultistepScheduler",
            {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True},
        ),
        "dpm++_sde": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}),
        "ddim": ("DDIMScheduler", {}),
        "unipc": ("UniPCMultistepScheduler", {}),
        "pndm": ("PNDMScheduler", {"skip_prk_steps": True}),
        "lms": ("LMSDiscreteScheduler", {}),
        "heun": ("HeunDiscreteScheduler", {}),
        "lcm": ("LCMScheduler", {}),
        "flow_euler": ("FlowMatchEulerDiscreteScheduler", {}),
        "flow_unipc": (
            "UniPCMultistepScheduler",
            {
                "use_flow_sigmas": True,
                "prediction_type": "flow_prediction",
                "flow_shift": config.get("shift", 3.0),
            },
        ),
    }
    cls_name, extra = table[choice]
    return getattr(diffusers, cls_name).from_config(config, **extra)


# --- loading through the model cache ------------------------------------------------

OFFLOAD = ("none", "model", "sequential", "group")


@dataclass(frozen=True)
class LoadOptions:
    device: str = "auto"
    dtype: str = "auto"
    offload: str = "none"


def _cache_key(name: str, opts: LoadOptions) -> tuple[Any, ...]:
    path = _model_path(name)
    device = M.pick_device(opts.device)
    return (
        "diffusers",
        str(path.resolve()),
        M.files_fingerprint(path),
        device,
        opts.dtype,
        opts.offload,
    )


def _load(name: str, opts: LoadOptions, device: str) -> Any:

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
    path = _model_path(name)
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
        self.key = _cache_key(name, opts)
        self._cm: Any = None

    def __enter__(self) -> Any:
        self._cm = M.model_cache().use(
            self.key,
            lambda: _load(self.name, self.opts, self.device),
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


# --- per-step progress, previews, cancellation ----------------------------------


def latent_preview(
    latents: Any, layout: str, frames_hw: tuple[int, int, int] | None = None
) -> Any | None:
    """A rough IMAGE [1,h,w,3] of the current latents: three channels, each stretched to 0..1."""
    import torch

    x = latents.detach()[0].float()
    if layout == "packed":  # LTX: [seq, C] with seq = f*h*w latent positions
        if frames_hw is None or x.ndim != 2 or x.shape[0] != math.prod(frames_hw):
            return None
        f, h, w = frames_hw
        x = x.reshape(f, h, w, -1)[f // 2].permute(2, 0, 1)
    elif layout == "bcfhw" and x.ndim == 4:
        x = x[:, x.shape[1] // 2]
    elif layout == "bfchw" and x.ndim == 4:
        x = x[x.shape[0] // 2]
    if x.ndim != 3:
        return None
    x = x[:3] if x.shape[0] >= 3 else x[:1].expand(3, -1, -1)
    lo = x.amin(dim=(1, 2), keepdim=True)
    hi = x.amax(dim=(1, 2), keepdim=True)
    img = ((x - lo) / (hi - lo).clamp(min=1e-6)).permute(1, 2, 0).unsqueeze(0)
    return img.to(device="cpu", dtype=torch.float32).contiguous()


def step_callback(
    ctx: Context | None,
    steps: int,
    layout: str,
    preview: bool,
    frames_hw: tuple[int, int, int] | None = None,
) -> Any:
    """callback_on_step_end: progress (also the cancellation point) and a latent preview."""

    def callback(pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        if ctx is not None:
            total = int(getattr(pipe, "_num_timesteps", 0) or steps)
            ctx.progress(step + 1, total, f"step {step + 1}/{total}")
            if preview and "latents" in kwargs:
                img = latent_preview(kwargs["latents"], layout, frames_hw)
                if img is not None:
                    ctx.preview(img, "image")
        return {}

    return callback


# --- converting values ------------------------------------------------------------


def to_pil(image: Any, width: int, height: int) -> Any:
    """First image of an IMAGE batch as PIL, scaled to cover width x height and centre-cropped."""
    import torch
    from PIL import Image as PILImage

    t = image[0] if image.ndim == 4 else image
    arr = (t.detach().float().clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()
    pil = PILImage.fromarray(arr[..., :3])
    if width and height and (pil.width, pil.height) != (width, height):
        scale = max(width / pil.width, height / pil.height)
        w, h = max(width, round(pil.width * scale)), max(height, round(pil.height * scale))
        pil = pil.resize((w, h), PILImage.Resampling.LANCZOS)
        left, top = (w - width) // 2, (h - height) // 2
        pil = pil.crop((left, top, left + width, top + height))
    return pil


def _images_out(images: Any) -> Any:
    """Pipeline output_type="pt" images [B,3,H,W] -> IMAGE [B,H,W,3] float32."""
    import torch

    if not isinstance(images, torch.Tensor):
        raise RuntimeError(f"pipeline returned {type(images).__name__}, expected a tensor")
    b, c, h, w = images.shape
    out = torch.empty((b, h, w, c), dtype=torch.float32)  # ours (not an inference tensor): one copy
    out.copy_(images.detach().permute(0, 2, 3, 1))
    return out.clamp_(0, 1)


def _video_out(frames: Any, fps: float) -> Any:
    """Pipeline output_type="pt" frames [B,F,3,H,W] (0..1) -> a VIDEO of the first clip."""
    import torch

    from reelgraph.media import TensorVideo

    if isinstance(frames, (list, tuple)):
        frames = frames[0]
    if not isinstance(frames, torch.Tensor):
        raise RuntimeError(f"pipeline returned {type(frames).__name__}, expected a tensor")
    if frames.ndim == 5:
        frames = frames[0]
    # To uint8 first (on the device), then the channel shuffle on 1-byte values: the cheap order.
    u8 = frames.detach().float().mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)
    return TensorVideo(u8.permute(0, 2, 3, 1).contiguous().cpu(), fps)


def _generator(seed: int, device: str) -> Any:
    import torch

    return torch.Generator(device="cpu" if device == "mps" else device).manual_seed(int(seed))


def _configure_vae(pipe: Any, slicing: bool, tiling: bool) -> None:
    vae = getattr(pipe, "vae", None)
    for flag, on, off in (
        (slicing, "enable_slicing", "disable_slicing"),
        (tiling, "enable_tiling", "disable_tiling"),
    ):
        if vae is None:
            continue
        fn = getattr(vae, on if flag else off, None)
        if fn is None:
            if flag:
                raise NodeInputError(
                    "vae_tiling" if on.endswith("tiling") else "vae_slicing",
                    f"the VAE of this model ({type(vae).__name__}) does not support {on[7:]}",
                )
            continue
        try:
            fn()
        except NotImplementedError as exc:  # some VAEs implement only one of the two
            if flag:
                raise NodeInputError(
                    "vae_tiling" if on.endswith("tiling") else "vae_slicing", str(exc)
                ) from None


def _run(
    ctx: Context | None,
    loaded: Loaded,
    pipe: Any,
    scheduler: str,
    slicing: bool,
    tiling: bool,
    kwargs: dict[str, Any],
) -> Any:
    import torch

    original = pipe.scheduler
    _configure_vae(pipe, slicing, tiling)
    if scheduler == "default":  # set_timesteps resets its state at every call
        with torch.inference_mode():
            return pipe(**kwargs)
    schedulers = loaded.entry.derived.setdefault("schedulers", {})
    if scheduler not in schedulers:  # built once per loaded model, like the default one
        schedulers[scheduler] = make_scheduler(original, scheduler)
    try:
        pipe.scheduler = schedulers[scheduler]
        with torch.inference_mode():
            return pipe(**kwargs)
    finally:
        pipe.scheduler = original


# --- validation hooks ----------------------------------------------------------------


def _missing_model_hint(task: str) -> Any:
    """Where a model for `task` should be, for the drop-down's error message."""

    def hint() -> str:
        where = (
            f"put a diffusers folder (model_index.json) in {M.model_folder('diffusers').resolve()}"
        )
        if task in ("t2i", "i2i"):
            where += f" or an SD/SDXL .safetensors in {M.model_folder('checkpoints').resolve()}"
        return f"no such {TASK_NAMES[task]} model: {where}"

    return hint


def _validator(task: str, frames: bool) -> Any:
    def validate(values: dict[str, Any]) -> list[tuple[str, str]]:
        name = values.get("model")
        if name is None:
            return []  # linked from another node: checked when it arrives (_check_runtime)
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


def _fingerprint(values: dict[str, Any]) -> str:
    """Replacing a model's files re-runs the nodes that used it."""
    try:
        return M.files_fingerprint(_model_path(str(values.get("model", ""))))
    except (M.ModelNotFound, OSError):
        return ""


def _check_runtime(
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


Size = Annotated[int, Int(0, 4096, 8)]
Steps = Annotated[int, Int(1, 500)]
Guidance = Annotated[float, Float(0.0, 50.0, 0.1)]
Prompt = Annotated[str, Text(multiline=True, placeholder="a lighthouse at dusk, cinematic")]
Negative = Annotated[str, Text(multiline=True, placeholder="blurry, low quality")]
Scheduler = Annotated[str, Combo(SCHEDULERS)]
Device = Annotated[str, Combo(M.DEVICES)]
DType = Annotated[str, Combo(M.DTYPES)]
Offload = Annotated[str, Combo(OFFLOAD)]
Frames = Annotated[int, Int(1, 1025)]
FPS = Annotated[float, Float(0.0, 120.0, 1.0)]


def _size(pipe: Any, width: int, height: int, fallback: tuple[int, int]) -> tuple[int, int]:
    """0 means the model's default size (its UNet sample size, else the family default)."""
    if width and height:
        return width, height
    sample = getattr(getattr(pipe, "unet", None), "config", None)
    scale = getattr(pipe, "vae_scale_factor", 8)
    if sample is not None and isinstance(getattr(sample, "sample_size", None), int):
        d = sample.sample_size * scale
        return width or d, height or d
    return width or fallback[0], height or fallback[1]


# --- nodes ------------------------------------------------------------------------------


@node(
    "diffusion.TextToImage",
    category="generate/image",
    outputs={"image": IMAGE},
    resource="gpu",
    validate=_validator("t2i", False),
    fingerprint=_fingerprint,
)
def text_to_image(
    model: Annotated[str, Combo(_t2i_options, hint=_missing_model_hint("t2i"))],
    prompt: Prompt,
    ctx: Context,
    negative_prompt: Negative = "",
    width: Size = 512,
    height: Size = 512,
    steps: Steps = 25,
    guidance: Guidance = 7.0,
    seed: Annotated[int, Seed()] = 0,
    scheduler: Scheduler = "default",
    batch: Annotated[int, Int(1, 64)] = 1,
    device: Device = "auto",
    dtype: DType = "auto",
    offload: Offload = "none",
    vae_slicing: Annotated[bool, Bool()] = False,
    vae_tiling: Annotated[bool, Bool()] = False,
    preview: Annotated[bool, Bool()] = True,
) -> Any:
    """Generate images from a prompt with a diffusers model from models/diffusers (Stable
    Diffusion 1.x/2.x, SDXL, and whatever AutoPipeline resolves) or an SD/SDXL
    .safetensors from models/checkpoints. Width/height 0: the model's default size.
    `offload` (model / sequential / group) and VAE slicing/tiling trade speed for GPU memory."""
    _check_runtime(model, "t2i", width, height, None, scheduler)
    with Loaded(model, LoadOptions(device, dtype, offload)) as lm:
        pipe = lm.pipeline("t2i")
        w, h = _size(pipe, width, height, (1024, 1024))
        out = _run(
            ctx,
            lm,
            pipe,
            scheduler,
            vae_slicing,
            vae_tiling,
            _image_kwargs(
                pipe,
                model,
                {
                    "prompt": prompt,
                    "negative_prompt": negative_prompt,
                    "width": w,
                    "height": h,
                    "num_inference_steps": steps,
                    "guidance_scale": guidance,
                    "num_images_per_prompt": batch,
                    "generator": _generator(seed, lm.device),
                    "output_type": "pt",
                },
                ctx,
                steps,
                preview,
            ),
        )
    images = _images_out(out.images)
    if preview:
        ctx.preview(images, "image")
    return images


@node(
    "diffusion.ImageToImage",
    category="generate/image",
    outputs={"image": IMAGE},
    resource="gpu",
    validate=_validator("i2i", False),
    fingerprint=_fingerprint,
)
def image_to_image(
    model: Annotated[str, Combo(_i2i_options, hint=_missing_model_hint("i2i"))],
    image: Image,
    prompt: Prompt,
    ctx: Context,
    negative_prompt: Negative = "",
    strength: Annotated[float, Float(0.01, 1.0, 0.01)] = 0.6,
    width: Size = 0,
    height: Size = 0,
    steps: Steps = 25,
    guidance: Guidance = 7.0,
    seed: Annotated[int, Seed()] = 0,
    scheduler: Scheduler = "default",
    device: Device = "auto",
    dtype: DType = "auto",
    offload: Offload = "none",
    vae_slicing: Annotated[bool, Bool()] = False,
    vae_tiling: Annotated[bool, Bool()] = False,
    preview: Annotated[bool, Bool()] = True,
) -> Any:
    """Redraw an image guided by a prompt. `strength` 0 keeps the image, 1 ignores it; the
    pipeline runs about strength x steps steps. Width/height 0: the image's size, rounded
    down to what the model accepts. Each image of a batch is redrawn."""
    import torch

    _check_runtime(model, "i2i", width, height, None, scheduler)
    mult = geometry(model).size_multiple
    b, ih, iw, _ = image.shape
    w = width or max(mult, iw // mult * mult)
    h = height or max(mult, ih // mult * mult)
    results = []
    with Loaded(model, LoadOptions(device, dtype, offload)) as lm:
        pipe = lm.pipeline("i2i")
        for i in range(b):
            out = _run(
                ctx,
                lm,
                pipe,
                scheduler,
                vae_slicing,
                vae_tiling,
                _image_kwargs(
                    pipe,
                    model,
                    {
                        "prompt": prompt,
                        "negative_prompt": negative_prompt,
                        "image": to_pil(image[i : i + 1], w, h),
                        "strength": strength,
                        "num_inference_steps": steps,
                        "guidance_scale": guidance,
                        "generator": _generator(seed + i, lm.device),
                        "output_type": "pt",
                        "width": w,
                        "height": h,
                    },
                    ctx,
                    steps,
                    preview,
                ),
            )
            results.append(_images_out(out.images))
    images = torch.cat(results)
    if preview:
        ctx.preview(images, "image")
    return images


def _image_kwargs(
    pipe: Any, model: str, kw: dict[str, Any], ctx: Context, steps: int, preview: bool
) -> dict[str, Any]:
    """What this image pipeline's __call__ takes, with the step callback and its latent layout."""
    params = _call_params(pipe)
    out = {k: v for k, v in kw.items() if k in params and not (k == "negative_prompt" and not v)}
    layout, dims = "bchw", None
    if type(pipe).__name__.replace("Img2Img", "") in PACKED_IMAGE_CLASSES:
        mult = geometry(model).size_multiple
        layout, dims = "packed", (1, kw["height"] // mult, kw["width"] // mult)
    out["callback_on_step_end"] = step_callback(ctx, steps, layout, preview, dims)
    return out


_PARAMS: dict[type, frozenset[str]] = {}


def _call_params(pipe: Any) -> frozenset[str]:
    """The keyword arguments a pipeline's __call__ takes (once per class)."""
    import inspect

    cls = type(pipe)
    if cls not in _PARAMS:
        _PARAMS[cls] = frozenset(inspect.signature(cls.__call__).parameters)
    return _PARAMS[cls]


def _video_kwargs(
    pipe: Any,
    fam: Family,
    *,
    prompt: str,
    negative: str,
    width: int,
    height: int,
    frames: int,
    fps: float,
    steps: int,
    guidance: float,
    extra: dict[str, Any],
) -> dict[str, Any]:
    params = _call_params(pipe)
    kw: dict[str, Any] = {
        "height": height,
        "width": width,
        "num_frames": frames,
        "num_inference_steps": steps,
        "output_type": "pt",
    }
    if fam.prompt:
        kw["prompt"] = prompt
        kw["negative_prompt"] = negative or None
        kw["guidance_scale"] = guidance
    else:  # SVD: guidance ramps from 1 to `guidance` over the frames
        kw["max_guidance_scale"] = guidance
        kw["min_guidance_scale"] = min(1.0, guidance)
    if "frame_rate" in params:
        kw["frame_rate"] = fps
    if "fps" in params:  # SVD conditions on fps - 1 (as it was trained)
        kw["fps"] = max(1, round(fps) - 1)
    kw.update({k: v for k, v in extra.items() if k in params})
    # CogVideoX 1.0 has learned positions for exactly max_text_seq_length prompt tokens.
    text_len = getattr(
        getattr(getattr(pipe, "transformer", None), "config", None), "max_text_seq_length", None
    )
    if text_len and "max_sequence_length" in params:
        kw["max_sequence_length"] = int(text_len)
    return kw


def _latent_dims(name: str, frames: int, width: int, height: int) -> tuple[int, int, int]:
    g = geometry(name)
    t = g.frame_multiple or 1
    s = g.size_multiple
    return (frames - 1) // t + 1, height // s, width // s


@node(
    "diffusion.TextToVideo",
    category="generate/video",
    outputs={"video": VIDEO},
    resource="gpu",
    validate=_validator("t2v", True),
    fingerprint=_fingerprint,
)
def text_to_video(
    model: Annotated[str, Combo(_t2v_options, hint=_missing_model_hint("t2v"))],
    prompt: Prompt,
    ctx: Context,
    negative_prompt: Negative = "",
    width: Size = 768,
    height: Size = 512,
    frames: Frames = 25,
    fps: FPS = 0.0,
    steps: Steps = 30,
    guidance: Guidance = 5.0,
    seed: Annotated[int, Seed()] = 0,
    scheduler: Scheduler = "default",
    device: Device = "auto",
    dtype: DType = "auto",
    offload: Offload = "none",
    vae_slicing: Annotated[bool, Bool()] = False,
    vae_tiling: Annotated[bool, Bool()] = False,
    preview: Annotated[bool, Bool()] = True,
) -> Any:
    """Generate a clip from a prompt: AnimateDiff, LTX-Video (frames 8k+1, sizes /32), Wan 2.x
    and CogVideoX (frames 4k+1, sizes /16). `fps` 0: the rate the model was trained for
    (LTX 24, Wan 16, CogVideoX and AnimateDiff 8). The rules are checked before the run."""
    _check_runtime(model, "t2v", width, height, frames, scheduler)
    with Loaded(model, LoadOptions(device, dtype, offload)) as lm:
        pipe = lm.pipeline("t2v")
        fam = VIDEO_FAMILIES[type(pipe).__name__]
        rate = fps or fam.fps
        kw = _video_kwargs(
            pipe,
            fam,
            prompt=prompt,
            negative=negative_prompt,
            width=width,
            height=height,
            frames=frames,
            fps=rate,
            steps=steps,
            guidance=guidance,
            extra={},
        )
        kw["generator"] = _generator(seed, lm.device)
        kw["callback_on_step_end"] = step_callback(
            ctx, steps, fam.layout, preview, _latent_dims(model, frames, width, height)
        )
        out = _run(ctx, lm, pipe, scheduler, vae_slicing, vae_tiling, kw)
    video = _video_out(out.frames, rate)
    if preview:
        ctx.preview(video, "video")
    return video


@node(
    "diffusion.ImageToVideo",
    category="generate/video",
    outputs={"video": VIDEO},
    resource="gpu",
    validate=_validator("i2v", True),
    fingerprint=_fingerprint,
)
def image_to_video(
    model: Annotated[str, Combo(_i2v_options, hint=_missing_model_hint("i2v"))],
    image: Image,
    ctx: Context,
    prompt: Prompt = "",
    negative_prompt: Negative = "",
    width: Size = 0,
    height: Size = 0,
    frames: Frames = 25,
    fps: FPS = 0.0,
    steps: Steps = 30,
    guidance: Guidance = 5.0,
    seed: Annotated[int, Seed()] = 0,
    scheduler: Scheduler = "default",
    motion_bucket: Annotated[int, Int(1, 255)] = 127,
    noise_aug: Annotated[float, Float(0.0, 1.0, 0.01)] = 0.02,
    decode_chunk: Annotated[int, Int(1, 64)] = 8,
    device: Device = "auto",
    dtype: DType = "auto",
    offload: Offload = "none",
    vae_slicing: Annotated[bool, Bool()] = False,
    vae_tiling: Annotated[bool, Bool()] = False,
    preview: Annotated[bool, Bool()] = True,
) -> Any:
    """Animate an image: Stable Video Diffusion (no prompt; `motion_bucket`, `noise_aug` and
    `decode_chunk` are its knobs), Wan image-to-video, LTX-Video (same folder as its
    text-to-video) and CogVideoX image-to-video. Width/height 0: the image's size rounded
    down to what the model accepts. The image is scaled to cover the size and centre-cropped."""
    mult = 8
    try:
        mult = geometry(model).size_multiple
    except (M.ModelNotFound, OSError, ValueError):
        pass
    _, ih, iw, _ = image.shape
    w = width or max(mult, iw // mult * mult)
    h = height or max(mult, ih // mult * mult)
    _check_runtime(model, "i2v", w, h, frames, scheduler)
    with Loaded(model, LoadOptions(device, dtype, offload)) as lm:
        pipe = lm.pipeline("i2v")
        fam = VIDEO_FAMILIES[type(pipe).__name__]
        rate = fps or fam.fps
        kw = _video_kwargs(
            pipe,
            fam,
            prompt=prompt,
            negative=negative_prompt,
            width=w,
            height=h,
            frames=frames,
            fps=rate,
            steps=steps,
            guidance=guidance,
            extra={
                "motion_bucket_id": motion_bucket,
                "noise_aug_strength": noise_aug,
                "decode_chunk_size": decode_chunk,
            },
        )
        kw["image"] = to_pil(image, w, h)
        kw["generator"] = _generator(seed, lm.device)
        kw["callback_on_step_end"] = step_callback(
            ctx, steps, fam.layout, preview, _latent_dims(model, frames, w, h)
        )
        out = _run(ctx, lm, pipe, scheduler, vae_slicing, vae_tiling, kw)
    video = _video_out(out.frames, rate)
    if preview:
        ctx.preview(video, "video")
    return video


@node(
    "diffusion.UnloadModels",
    category="generate/models",
    outputs={"unloaded": INT},
    output=True,
    nondeterministic=True,
)
def unload_models(
    after: AnyValue = None,
    model: Annotated[str, Text(placeholder="empty: every model")] = "",
) -> Any:
    """Free loaded models from the model cache (GPU and CPU memory): all of them, or the one
    named (a models/diffusers folder name). Link `after` to order it after the nodes that
    used them. Returns how many pipelines were unloaded."""
    if not model:
        return M.model_cache().unload()
    try:
        path = str(_model_path(model).resolve())
    except M.ModelNotFound as exc:
        raise NodeInputError("model", str(exc)) from None
    return M.model_cache().unload(
        match=lambda k: isinstance(k, tuple) and len(k) > 1 and k[1] == path
    )


FIT_MODES = ("slow", "hold", "loop", "pingpong")


def fit_indices(count: int, total: int, mode: str) -> list[int]:
    """Which source frame each of `total` output frames shows, for a clip of `count` frames."""
    if count <= 0 or total <= 0:
        return []
    if mode == "slow":  # stretch evenly over the duration
        return [min(count - 1, j * count // total) for j in range(total)]
    if mode == "hold":  # play once, then hold the last frame
        return [min(j, count - 1) for j in range(total)]
    if mode == "loop":
        return [j % count for j in range(total)]
    period = max(1, 2 * count - 2)  # pingpong: 0 1 2 1 0 1 2 ...
    return [(j % period) if (j % period) < count else period - (j % period) for j in range(total)]


@node("diffusion.FitClip", category="generate/video", outputs={"video": VIDEO})
def fit_clip(
    video: Video,
    audio: Audio = None,
    seconds: Annotated[float, Float(0.0, 3600.0, 0.1)] = 0.0,
    tail: Annotated[float, Float(0.0, 10.0, 0.05)] = 0.4,
    mode: Annotated[str, Combo(FIT_MODES)] = "slow",
) -> Any:
    """Make a generated clip (a few seconds at most) as long as its narration: `audio`'s
    duration plus `tail`, or `seconds`. `slow` stretches it, `hold` freezes the last frame,
    `loop` and `pingpong` repeat it. The audio becomes the clip's sound track. Streamed:
    frames are taken from the clip as they are needed."""
    import torch

    from reelgraph.media import ProceduralVideo

    length = (audio.duration + tail) if audio is not None else seconds
    if length <= 0:
        raise NodeInputError("seconds", "give an audio to follow or a length in seconds")
    total = max(1, round(length * video.fps))
    idx = fit_indices(video.frame_count, total, mode)
    if not idx:
        raise NodeInputError("video", "the clip has no frames")

    def render(start: int, stop: int) -> Any:
        wanted = idx[start:stop]
        if not wanted:
            return torch.zeros(0, video.height, video.width, 3, dtype=torch.uint8)
        lo, hi = min(wanted), max(wanted) + 1
        frames = video.render(lo, hi)
        return frames[torch.tensor([i - lo for i in wanted])].contiguous()

    out = ProceduralVideo(
        render, fps=video.fps, width=video.width, height=video.height, frame_count=total
    )
    if audio is not None:
        from .video import fit_audio

        out = out.with_audio(fit_audio(audio, total / video.fps))
    return out
