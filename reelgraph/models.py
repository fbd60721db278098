"""The models folder and the model cache, for node packs that load weights.

A stable public face over `reelgraph.engine.models`; node packs import from here.
"""

from .engine.models import *  # noqa: F403
from .engine.models import __all__  # noqa: F401
