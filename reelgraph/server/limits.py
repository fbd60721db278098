"""Per-run limits: memory, wall time and output bytes, with the flag that sets each.

The server's flags set the defaults and the ceiling; a run may ask for lower
limits (POST /api/runs `limits`), never for higher ones. 0 means "no limit".
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any


def _physical_memory_mb() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) >> 20
    except (ValueError, OSError, AttributeError):
        return 16 << 10


# What each limit is called in errors: the flag of `reelgraph serve` that sets it.
FLAGS = {
    "memory_mb": "--run-memory-mb",
    "seconds": "--run-timeout-s",
    "output_mb": "--run-output-mb",
}


@dataclass(frozen=True)
class RunLimits:
    memory_mb: int = 0  # resident memory of the worker while the run executes
    seconds: float = 0.0  # wall time from the run's start
    output_mb: int = 0  # bytes written into the run's output folder

    @classmethod
    def defaults(cls) -> RunLimits:
        """Three quarters of the machine's memory, six hours, 20 GiB of files."""
        return cls(memory_mb=_physical_memory_mb() * 3 // 4, seconds=6 * 3600.0, output_mb=20 << 10)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def narrowed(self, asked: Any) -> RunLimits:
        """These limits lowered by what a request asks for; ValueError naming the bad field."""
        if asked is None:
            return self
        if not isinstance(asked, dict):
            raise ValueError("'limits' must be an object: {memory_mb, seconds, output_mb}")
        unknown = set(asked) - set(FLAGS)
        if unknown:
            raise ValueError(f"unknown limit(s): {', '.join(sorted(map(str, unknown)))}")
        values = self.to_dict()
        for name, value in asked.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"limit {name!r} must be a positive number")
            if value > 1e15:
                raise ValueError(f"limit {name!r} is too large")
            ceiling = values[name]
            values[name] = type(ceiling)(min(value, ceiling) if ceiling else value)
        return RunLimits(**values)

    @classmethod
    def from_dict(cls, data: Any, fallback: RunLimits) -> RunLimits:
        if not isinstance(data, dict):
            return fallback
        try:
            return cls(**{k: data[k] for k in FLAGS if k in data})
        except TypeError:
            return fallback


def exceeded(name: str, limit: float, detail: str = "") -> str:
    unit = {"memory_mb": "MiB", "seconds": "s", "output_mb": "MiB"}[name]
    what = {
        "memory_mb": "memory limit",
        "seconds": "wall-time limit",
        "output_mb": "output limit",
    }[name]
    shown = f"{limit:g}" if isinstance(limit, float) else str(limit)
    text = f"the run exceeded its {what} of {shown} {unit} ({FLAGS[name]})"
    return f"{text}: {detail}" if detail else text
