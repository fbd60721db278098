"""reelgraph: a node-graph workflow engine for AI video generation.

This top-level package is the public API for node authors::

    from reelgraph import node, Image, Video, Audio, Int, Float, Text, Combo, Context

Media value classes live in `reelgraph.media`, the models folder and model cache
in `reelgraph.models`. Everything else (`reelgraph.engine`, `reelgraph.server`,
`reelgraph.nodes`) is the implementation. Importing this package is cheap: no
torch, aiohttp or model code is imported at load time.
"""

from .engine import *  # noqa: F403  (the engine's public names are this package's)
from .engine import __all__ as _engine_all
from .engine import __version__
from .engine.workflow import atomic_write

__all__ = [*_engine_all, "__version__", "atomic_write"]
