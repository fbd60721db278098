"""reelgraph's engine: typed nodes, workflows, the scheduler and the cache.

This package is the public API node packs and the server use. It imports no
torch, aiohttp or model code at load time.
"""

from .cache import Cache, DiskCache, MemoryCache, Result, SingleFlight, default_cache_dir
from .context import CancelToken, Context
from .errors import Cancelled, Issue, NodeInputError, WorkflowError
from .fingerprint import NotARegularFile, file_fingerprint
from .graph import Plan, compile_plan, plan_run, validate_workflow
from .node import Bool, Combo, Float, Int, NodeType, Seed, Text, Widget, node
from .registry import Registry
from .scheduler import Engine, Event, NodeFailure, RunResult
from .serialize import register_codec
from .types import (
    ANY,
    AUDIO,
    BOOL,
    FLOAT,
    IMAGE,
    INT,
    MASK,
    PATH,
    SCENE,
    SUBTITLES,
    TEXT,
    VIDEO,
    AnyValue,
    Audio,
    Compat,
    FilePath,
    Image,
    Mask,
    Scene,
    Scenes,
    Subtitles,
    Video,
    compatibility,
    list_of,
    register_type,
    socket,
)
from .workflow import (
    Limits,
    Workflow,
    apply_params,
    load_workflow,
    loads_workflow,
    save_workflow,
)

__version__ = "0.1.0"

__all__ = [
    "ANY",
    "AUDIO",
    "BOOL",
    "FLOAT",
    "IMAGE",
    "INT",
    "MASK",
    "PATH",
    "SCENE",
    "SUBTITLES",
    "TEXT",
    "VIDEO",
    "AnyValue",
    "Audio",
    "Bool",
    "Cache",
    "CancelToken",
    "Cancelled",
    "Combo",
    "Compat",
    "Context",
    "DiskCache",
    "Engine",
    "Event",
    "FilePath",
    "Float",
    "Image",
    "Int",
    "Issue",
    "Limits",
    "Mask",
    "MemoryCache",
    "NodeFailure",
    "NodeInputError",
    "NodeType",
    "NotARegularFile",
    "Plan",
    "Registry",
    "Result",
    "RunResult",
    "Scene",
    "Scenes",
    "Seed",
    "SingleFlight",
    "Subtitles",
    "Text",
    "Video",
    "Widget",
    "Workflow",
    "WorkflowError",
    "apply_params",
    "compatibility",
    "compile_plan",
    "default_cache_dir",
    "file_fingerprint",
    "list_of",
    "load_workflow",
    "loads_workflow",
    "node",
    "plan_run",
    "register_codec",
    "register_type",
    "save_workflow",
    "socket",
    "validate_workflow",
]
