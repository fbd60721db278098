"""Error types that carry where the problem is (node id, input, file)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Issue:
    """One problem found in a workflow, with where it is."""

    code: str  # stable machine-readable kind, e.g. "missing_input"
    message: str
    node: str | None = None
    input: str | None = None
    file: str | None = None
    severity: str = "error"  # "warning" never blocks a run

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.node is not None:
            where.append(f"node {self.node!r}")
        if self.input is not None:
            where.append(f"input {self.input!r}")
        text = f"{', '.join(where)}: {self.message}" if where else self.message
        return f"warning: {text}" if self.severity == "warning" else text

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class WorkflowError(ValueError):
    """A workflow cannot be loaded or run; `issues` lists every problem found."""

    def __init__(self, issues: list[Issue]):
        self.issues = list(issues)
        head = (
            f"{len(self.issues)} problem(s) in workflow"
            if len(self.issues) != 1
            else "workflow problem"
        )
        shown = [f"  - {i}" for i in self.issues[:30]]
        if len(self.issues) > 30:
            shown.append(f"  ... and {len(self.issues) - 30} more")
        super().__init__(head + ":\n" + "\n".join(shown))


class NodeInputError(ValueError):
    """Raised by a node when an input value is unusable; names the input."""

    def __init__(self, input: str, message: str):
        self.input = input
        super().__init__(message)


class Cancelled(Exception):
    """The run was cancelled; raised inside nodes by `ctx.check_cancelled()`."""
