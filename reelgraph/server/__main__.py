"""`python -m reelgraph.server` runs the server without going through the `reelgraph` command."""

import sys

from .cli import main

sys.exit(main())
