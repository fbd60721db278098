"""A Ray head of its own on this machine, for the bench and the tests that join one.

`ray start --head --block` keeps the head's processes tied to the `ray start` process,
so stopping it stops that Ray only (`ray stop` stops every Ray on the machine, other
people's batches too). Give it an environment with a RAY_TMPDIR of its own, and the
address file it writes is seen only by what runs with that environment.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


@contextmanager
def own_ray_head(env: Mapping[str, str], num_cpus: int = 2) -> Iterator[subprocess.Popen[str]]:
    """A running head (no dashboard) for the body of the `with`; stopped after it.
    Raises RuntimeError with `ray start`'s output if it did not start."""
    head = subprocess.Popen(
        [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
         "--port=0", f"--num-cpus={num_cpus}", "--include-dashboard=false",
         "--disable-usage-stats"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(env),
    )  # fmt: skip
    try:
        assert head.stdout is not None
        log = []
        for line in head.stdout:
            log.append(line)
            if "Ray runtime started" in line:
                break
        if head.poll() is not None:
            raise RuntimeError("ray start failed:\n" + "".join(log)[-3000:])
        yield head
    finally:
        head.terminate()
        head.wait(60)
