"""Error types that carry where the problem is (node id, input, file)."""

from __future__ import annotations

from typing import Any, NamedTuple


class Issue(NamedTuple):
    """One problem found in a workflow, with where it is. Immutable; a named tuple
    because a hostile document can make 100,000 of them (a frozen dataclass costs
    twice as much to build)."""

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
        # By hand, not dataclasses.asdict (which deep-copies): 100,000 issues must be cheap.
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.node is not None:
            out["node"] = self.node
        if self.input is not None:
            out["input"] = self.input
        if self.file is not None:
            out["file"] = self.file
        out["severity"] = self.severity
        return out


MAX_LISTED = 1000  # issues an answer lists in full; the rest are counted


def listed_issues(issues: list[Issue], limit: int = MAX_LISTED) -> list[Issue]:
    """The first `limit` issues, and when there are more, one last issue that counts
    them by kind: 100,000 copies of one mistake help nobody, an exact count does.
    Nothing is dropped silently, and the answer stays small enough to send and show."""
    if len(issues) <= limit:
        return list(issues)
    rest = issues[limit:]
    by_code: dict[tuple[str, str], int] = {}
    for i in rest:
        key = (i.code, i.severity)
        by_code[key] = by_code.get(key, 0) + 1
    kinds = ", ".join(
        f"{n:,} {code}{' (warning)' if severity == 'warning' else ''}"
        for (code, severity), n in sorted(by_code.items(), key=lambda kv: -kv[1])
    )
    severity = "error" if any(sev == "error" for _, sev in by_code) else "warning"
    more = Issue(
        "more_issues",
        f"and {len(rest):,} more problems, not listed: {kinds}",
        file=issues[0].file,
        severity=severity,
    )
    return [*issues[:limit], more]


def count_issues(issues: list[Issue]) -> dict[str, Any]:
    """Exact counts: errors, warnings, and issues of each code."""
    by_code: dict[str, int] = {}
    errors = 0
    for i in issues:
        by_code[i.code] = by_code.get(i.code, 0) + 1
        errors += i.severity == "error"
    return {"errors": errors, "warnings": len(issues) - errors, "by_code": by_code}


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
