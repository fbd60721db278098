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
