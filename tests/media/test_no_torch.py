"""The explainer needs no tensor library: rendering it (cards, Ken Burns motion,
crossfades, subtitles, the AI label, Piper narration, loudness, encode) never
imports torch. Run in a fresh interpreter, since tests in this process import it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPLAINER = ROOT / "reelgraph" / "workflows" / "explainer.json"

RUN = """
import json, sys
from pathlib import Path
from reelgraph.engine import Cache, DiskCache, Engine, MemoryCache, Registry, load_workflow

workflow, out, cache = (Path(a) for a in sys.argv[1:4])
script = "# Two scenes\\nThe first one speaks.\\n\\n# The second\\nAnd then it ends."
with Engine(Registry.discover(), Cache(MemoryCache(), DiskCache(cache))) as eng:
    res = eng.run(load_workflow(workflow), params={"script": script}, out_dir=out)
    if res.status != "finished":
        raise SystemExit(str([str(f) for f in res.failed.values()]))
    first = res.outputs["encode"]["path"]
    # again from the disk cache (a new engine): reading cached cards and speech back
    # needs no torch either
with Engine(Registry.discover(), Cache(MemoryCache(), DiskCache(cache))) as eng:
    again = eng.run(load_workflow(workflow), params={"script": script}, out_dir=out / "again")
print(json.dumps({"path": first, "again": again.status, "torch": "torch" in sys.modules,
                  "numpy": "numpy" in sys.modules}))
"""


@pytest.mark.slow
def test_explainer_runs_without_importing_torch(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(EXPLAINER), str(tmp_path / "out"), str(tmp_path / "c")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(got["path"]).is_file()
    assert got["again"] == "finished"
    assert got["numpy"]  # the check sees this interpreter's modules
    assert not got["torch"], "the explainer imported torch"


def test_memory_tier_keeps_few_large_results_while_small_ones_stay():
    """A memory-only cache: large results (cards, speech, segments) share a quarter of
    the budget, least recently used first out; small results are not pushed out."""
    import numpy as np

    from reelgraph.engine import MemoryCache
    from reelgraph.engine.cache import Result

    mem = MemoryCache(max_bytes=64 << 20)
    assert mem.max_large_bytes == 16 << 20
    for i in range(100):
        mem.put(f"s{i}", Result((f"scene {i}",)))
    for i in range(20):  # a long render's cards, 3 MB each
        mem.put(f"card{i}", Result((np.zeros((1000, 1000, 3), np.uint8),)))
        assert mem.large_bytes <= 16 << 20
    assert mem.get("card19") is not None and mem.get("card0") is None
    assert all(mem.get(f"s{i}") is not None for i in range(100))
    mem.put("huge", Result((np.zeros((20 << 20,), np.uint8),)))  # over the large budget
    assert mem.get("huge") is None and mem.get("card19") is not None
