"""Read back what reelgraph embeds in the MP4s it writes (workflow and provenance).

Keys written by the Encode node (MP4 `mdta` metadata, via movflags=use_metadata_tags):
`reelgraph.workflow` (the workflow JSON), `reelgraph.provenance` (generator,
version, AI-generated disclosure, node types, models, seeds) and `comment`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

WORKFLOW_KEY = "reelgraph.workflow"
PROVENANCE_KEY = "reelgraph.provenance"


def read_media_metadata(path: str | Path) -> dict[str, Any]:
    """{"workflow": dict | None, "provenance": dict | None, "tags": all container tags}."""
    import av

    with av.open(str(path)) as c:
        tags = dict(c.metadata)

    def parse(key: str) -> Any:
        raw = tags.get(key)
        if not raw:
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return None

    return {"workflow": parse(WORKFLOW_KEY), "provenance": parse(PROVENANCE_KEY), "tags": tags}
