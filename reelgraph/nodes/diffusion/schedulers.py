"""Scheduler choices: which fit a model (noise-prediction, flow-matching or a fixed one), and
building the chosen one from the model's own scheduler config."""

from __future__ import annotations

from typing import Any

from reelgraph import models as M

from .catalog import read_json
from .families import CKPT_PREFIX

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
    cfg = read_json(M.resolve("diffusers", name) / "scheduler" / "scheduler_config.json")
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
