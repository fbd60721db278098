"""A batch from start to end: validate every row, plan, run rows on an executor,
publish each row's files under its stem, keep the manifest current, resume.

Shared work runs once. Rows share one cache (memory and disk). Every row waits for
the first ("pilot") row, which runs alone with all the CPUs it is given, so what
the rows have in common is cached before they start side by side; a row whose plan
has a node key that another earlier row owns waits for that row too. Per-element
keys (a list of scenes) make an unchanged scene a cache hit in every later row.
Rows side by side in one process (the local executor) never compute the same key
twice: the cache lets one compute it while the others wait for its result
(`SingleFlight`). Across processes (Ray, worker processes) two later rows that
share something the pilot does not have (the same new city, say) may both compute it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, InvalidStateError, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import WorkflowError
from ..graph import plan_run
from ..registry import Registry
from ..workflow import Workflow
from .job import ENCODE_TYPES, RowJob, RowOutcome
from .manifest import ManifestWriter, intact, load_manifest, row_fingerprint
from .naming import assign_stems, check_template, default_template, template_fields
from .outputs import STAGING, existing_stems, final_names, publish
from .progress import BatchProgress
from .rows import Rows
from .validate import RowProblem, check_cells, column_of

EXIT_OK, EXIT_SOME_FAILED, EXIT_NONE_VALID, EXIT_CANCELLED = 0, 1, 2, 130
LOCK_NAME = ".batch.lock"


class BatchError(ValueError):
    """The batch cannot start: its problems, each with row and column where there is one."""

    def __init__(self, problems: list[RowProblem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems[:5]))


@dataclass
class RowEntry:
    number: int
    line: int
    stem: str
    params: dict[str, Any]
    fingerprint: str
    status: str = "pending"  # pending | invalid | ok | failed | cancelled
    error: dict[str, Any] | None = None
    problems: list[RowProblem] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    gpu: bool = False
    record: dict[str, Any] = field(default_factory=dict)  # the manifest entry

    @property
    def valid(self) -> bool:
        return self.status != "invalid"


@dataclass
class BatchPlan:
    workflow: Workflow
    rows: Rows
    out_dir: Path
    entries: dict[int, RowEntry]
    problems: list[RowProblem]  # header / workflow problems and every row problem
    resumed: set[int]
    name_template: str

    @property
    def valid_rows(self) -> list[RowEntry]:
        return [e for e in self.entries.values() if e.valid]

    def to_report(self) -> dict[str, Any]:
        return {
            "rows": len(self.entries),
            "valid": len(self.valid_rows),
            "invalid": len(self.entries) - len(self.valid_rows),
            "resumed": sorted(self.resumed),
            "problems": [p.to_dict() for p in self.problems],
            "stems": {e.number: e.stem for e in self.entries.values()},
        }


def _problem_from_issue(wf: Workflow, row: int | None, line: int | None, issue: Any) -> RowProblem:
    column = column_of(wf, issue.node, issue.input)
    return RowProblem(row, column, issue.message, line=line, node=issue.node, input=issue.input)


def prepare(
    workflow: Workflow,
    rows: Rows,
    out_dir: Path,
    registry: Registry,
    *,
    name_template: str | None = None,
    ignore_unknown_columns: bool = False,
) -> BatchPlan:
    """Every check before any work. Raises BatchError only when nothing can run at all
    (a broken workflow, a bad --name); problems of single rows are in the plan."""
    out_dir = Path(out_dir)
    template = name_template or default_template(rows.columns)
    try:
        check_template(template, rows.columns)
    except ValueError as exc:
        raise BatchError([RowProblem(None, None, str(exc))]) from None
    # The workflow itself, with its defaults: a problem here is not any row's fault.
    try:
        plan_run(workflow, registry, params={}, side_effect_salt=str(out_dir.resolve()))
    except WorkflowError as exc:
        own = [
            i
            for i in exc.issues
            if i.severity == "error" and column_of(workflow, i.node, i.input) is None
        ]
        if own:
            raise BatchError(
                [RowProblem(None, None, i.message, node=i.node, input=i.input) for i in own]
            ) from None
    problems, good = check_cells(
        workflow,
        rows,
        # Columns an explicit --name uses are known; the default's first column is not.
        extra_columns=set(template_fields(name_template)) if name_template else set(),
        ignore_unknown=ignore_unknown_columns,
    )
    header_problems = [p for p in problems if p.row is None]
    old = load_manifest(out_dir)
    old_rows = {r["row"]: r for r in (old or {}).get("rows", []) if isinstance(r.get("row"), int)}
    params_of = {r.number: good.get(r.number, {}) for r in rows.rows}
    fingerprints = {n: row_fingerprint(workflow.doc, p) for n, p in params_of.items()}
    fixed = {
        n: r["stem"]
        for n, r in old_rows.items()
        if r.get("stem") and n in fingerprints and r.get("fingerprint") == fingerprints[n]
    }
    owned = {f["name"] for r in old_rows.values() for f in r.get("files") or []}
    taken = existing_stems(out_dir, owned) - {r.get("stem") for r in old_rows.values()}
    stems = assign_stems(
        [(r.number, r.values) for r in rows.rows], template, taken=taken, fixed=fixed
    )
    entries: dict[int, RowEntry] = {}
    stage_root = out_dir / STAGING
    for r in rows.rows:
        e = RowEntry(r.number, r.line, stems[r.number], params_of[r.number], fingerprints[r.number])
        entries[r.number] = e
        mine = [p for p in problems if p.row == r.number]
        if header_problems or mine or r.number not in good:
            e.status = "invalid"
            e.problems = mine
            continue
        try:
            plan = plan_run(
                workflow,
                registry,
                params=e.params,
                side_effect_salt=str((stage_root / e.stem).resolve()),
            )
        except WorkflowError as exc:
            e.status = "invalid"
            e.problems = [
                _problem_from_issue(workflow, r.number, r.line, i)
                for i in exc.issues
                if i.severity == "error"
            ]
            problems.extend(e.problems)
            continue
        e.keys = {pn.key for pn in plan.nodes.values() if not pn.type.side_effects}
        e.gpu = any(pn.type.resource == "gpu" for pn in plan.nodes.values())
    for e in entries.values():
        if e.status == "invalid":
            first = (
                e.problems[0] if e.problems else (header_problems[0] if header_problems else None)
            )
            e.error = {
                "message": "; ".join(str(p) for p in (e.problems or header_problems))[:2000],
                **({"column": first.column} if first and first.column else {}),
                **({"node": first.node} if first and first.node else {}),
                **({"input": first.input} if first and first.input else {}),
            }
    resumed = {
        n
        for n, e in entries.items()
        if e.valid
        and (r := old_rows.get(n)) is not None
        and r.get("fingerprint") == e.fingerprint
        and r.get("stem") == e.stem
        and intact(out_dir, r)
    }
    for n in resumed:
        entries[n].status = "ok"
        entries[n].record = {**old_rows[n], "resumed": True}
    return BatchPlan(workflow, rows, out_dir, entries, problems, resumed, template)


def _dependencies(todo: list[RowEntry], pilot: bool) -> dict[int, set[int]]:
    """Row -> rows it waits for: the earlier row that owns each shared key, and with
    `pilot` the first row to run."""
    owner: dict[str, int] = {}
    deps: dict[int, set[int]] = {}
    for e in todo:
        deps[e.number] = {owner[k] for k in e.keys if k in owner}
        for k in e.keys:
            owner.setdefault(k, e.number)
    if pilot and todo:
        for e in todo[1:]:
            deps[e.number].add(todo[0].number)
    return deps


@contextlib.contextmanager
def batch_lock(out_dir: Path) -> Iterator[None]:
    out_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(out_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise BatchError(
                [RowProblem(None, None, f"another batch is writing into {out_dir} right now")]
            ) from None
        yield
    finally:
        os.close(fd)


@dataclass
class BatchSummary:
    status: str  # ok | some_failed | none_valid | cancelled
    exit_code: int
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    problems: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "totals": self.totals,
            "problems": self.problems,
            "rows": self.rows,
        }


def _record(e: RowEntry, outcome: RowOutcome | None, files: list[dict[str, Any]]) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "row": e.number,
        "line": e.line,
        "stem": e.stem,
        "status": e.status,
        "fingerprint": e.fingerprint,
        "params": e.params,
        "files": files,
        "error": e.error,
    }
    if outcome is not None:
        rec.update(
            seconds=round(outcome.seconds, 3),
            executed=outcome.executed,
            cached=outcome.cached,
            node_executions=outcome.node_executions,
            node_executions_naive=outcome.node_executions_naive,
            encoded_frames=outcome.encoded_frames,
            frames=outcome.frames,
            worker=outcome.worker,
        )
    return rec


def run_batch(
    plan: BatchPlan,
    executor: Any,
    *,
    cache_dir: str | None,
    cpu_workers: int = 1,
    pilot_cpu_workers: int | None = None,
    progress: BatchProgress | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> BatchSummary:
    """Run the valid rows that are not already done; the manifest is rewritten after each."""
    out_dir = plan.out_dir
    t0 = time.perf_counter()
    stage_root = out_dir / STAGING
    with batch_lock(out_dir):
        shutil.rmtree(stage_root, ignore_errors=True)  # leftovers of a killed run
        todo = [e for e in plan.entries.values() if e.valid and e.number not in plan.resumed]
        for e in plan.entries.values():
            if not e.record:
                e.record = _record(e, None, [])
        doc: dict[str, Any] = {
            "format": "reelgraph.batch",
            "version": 1,
            "workflow": plan.workflow.file or plan.workflow.name,
            "workflow_name": plan.workflow.name,
            "rows_file": plan.rows.file,
            "name_template": plan.name_template,
            "executor": executor.describe(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "problems": [p.to_dict() for p in plan.problems],
        }

        manifest = ManifestWriter(out_dir)

        def save() -> None:
            doc["rows"] = [e.record for e in plan.entries.values()]
            manifest.write(doc)

        save()
        deps = _dependencies(todo, executor.needs_pilot)
        waiting = {e.number: e for e in todo}
        running: dict[Future[Any], RowEntry] = {}
        cancelled = False
        handed_over = False  # every row is with the executor
        pilot = todo[0].number if todo and executor.needs_pilot else None
        # Set when the pilot starts encoding (executors whose rows share flights): its
        # speech and pictures are in the cache by then and its segments claimed, and
        # the row after it speaks its own scene while the pilot encodes, on the core
        # the pilot's encode leaves idle.
        pilot_encoding: Future[None] | None = (
            Future() if pilot is not None and executor.shares_flights and len(todo) > 1 else None
        )

        def pilot_listener(base: Callable[[Any], None] | None) -> Callable[[Any], None]:
            def listen(ev: Any) -> None:
                if (
                    ev.type == "node.started"
                    and ev.data.get("node_type") in ENCODE_TYPES
                    and pilot_encoding is not None
                ):
                    with contextlib.suppress(InvalidStateError):
                        pilot_encoding.set_result(None)
                if base is not None:
                    base(ev)

            return listen

        def submit_ready() -> None:
            nonlocal handed_over
            for n in [n for n, e in waiting.items() if not deps[n]]:
                is_pilot = bool(todo) and n == todo[0].number
                e = waiting.pop(n)
                job = RowJob(
                    number=e.number,
                    stem=e.stem,
                    params=e.params,
                    workflow=plan.workflow.doc,
                    workflow_file=plan.workflow.file,
                    stage_dir=str((stage_root / e.stem).resolve()),
                    cache_dir=cache_dir,
                    cpu_workers=(
                        pilot_cpu_workers
                        if pilot_cpu_workers and is_pilot and waiting
                        else cpu_workers
                    ),
                    gpu=e.gpu,
                )
                listener = None
                if progress is not None:
                    progress.row_submitted(e.number, e.stem, not executor.reports_events)
                    listener = lambda ev, n=e.number: progress.event(n, ev)  # noqa: E731
                if n == pilot and pilot_encoding is not None:
                    listener = pilot_listener(listener)
                running[executor.submit(job, listener)] = e
            if not waiting and not handed_over:
                handed_over = True
                executor.all_submitted()

        def finished(fut: Future[Any], e: RowEntry) -> None:
            try:
                outcome: RowOutcome = fut.result()
            except Exception as exc:  # the worker died more often than retries allow
                outcome = RowOutcome(e.number, "failed", error={"message": f"worker failed: {exc}"})
            files: list[dict[str, Any]] = []
            e.status = outcome.status if not cancelled else "cancelled"
            e.error = outcome.error
            if outcome.status == "ok" and not cancelled:
                # The names are in the manifest before the files are in DIR: a batch
                # killed between the renames and the next save leaves files the next
                # run knows are this row's (it redoes the row and replaces them), not
                # someone else's that it must step around with a new name.
                names = [{"name": n} for n in final_names(e.stem, outcome.files)]
                e.record = {**_record(e, outcome, names), "status": "publishing"}
                save()
                try:
                    files = publish(
                        stage_root / e.stem, out_dir, e.stem, outcome.files, outcome.payload
                    )
                except OSError as exc:
                    e.status, e.error = "failed", {"message": f"could not publish files: {exc}"}
            e.record = _record(e, outcome, files)
            save()
            if progress is not None:
                detail = (
                    (e.error or {}).get("message", "")[:120]
                    if e.status != "ok"
                    else (f"{outcome.node_executions}/{outcome.node_executions_naive} node calls")
                )
                progress.row_finished(e.number, e.status, outcome.seconds, detail)
            if on_row is not None:
                on_row(e.record)
            for d in deps.values():
                d.discard(e.number)

        try:
            if todo:
                executor.warm(plan.workflow.doc, rows=len(todo))
            submit_ready()
            while running:
                if should_stop is not None and should_stop() and not cancelled:
                    raise KeyboardInterrupt
                gate = [pilot_encoding] if pilot_encoding is not None else []
                done, _ = wait([*running, *gate], timeout=0.5, return_when=FIRST_COMPLETED)
                if pilot_encoding is not None and pilot_encoding.done():
                    pilot_encoding = None
                    for d in deps.values():
                        d.discard(pilot)
                for fut in done:
                    if fut in running:
                        finished(fut, running.pop(fut))
                if not cancelled:
                    submit_ready()
                if progress is not None:
                    progress.tick()
        except KeyboardInterrupt:
            cancelled = True
            executor.cancel()
            for fut, e in list(running.items()):
                with contextlib.suppress(Exception):
                    fut.result(timeout=30)
                e.status, e.error = "cancelled", {"message": "cancelled"}
                e.record = _record(e, None, [])
            save()
        finally:
            if progress is not None:
                progress.close()
            shutil.rmtree(stage_root, ignore_errors=True)
        records = [e.record for e in plan.entries.values()]
        ran = [r for r in records if "node_executions" in r and not r.get("resumed")]
        totals = {
            "rows": len(records),
            "ok": sum(r["status"] == "ok" for r in records),
            "failed": sum(r["status"] == "failed" for r in records),
            "invalid": sum(r["status"] == "invalid" for r in records),
            "cancelled": sum(r["status"] == "cancelled" for r in records),
            "resumed": len(plan.resumed),
            "wall_s": round(time.perf_counter() - t0, 3),
            "node_executions": sum(r["node_executions"] for r in ran),
            "node_executions_naive": sum(r["node_executions_naive"] for r in ran),
            "encoded_frames": sum(r["encoded_frames"] for r in ran),
            "encoded_frames_naive": sum(r["frames"] for r in ran),
        }
        totals["node_executions_saved"] = (
            totals["node_executions_naive"] - totals["node_executions"]
        )
        totals["encoded_frames_saved"] = totals["encoded_frames_naive"] - totals["encoded_frames"]
        if cancelled:
            status, code = "cancelled", EXIT_CANCELLED
        elif not plan.valid_rows:
            status, code = "none_valid", EXIT_NONE_VALID
        elif totals["ok"] == totals["rows"]:
            status, code = "ok", EXIT_OK
        else:
            status, code = "some_failed", EXIT_SOME_FAILED
        doc["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        doc["status"] = status
        doc["totals"] = totals
        save()
    return BatchSummary(status, code, records, totals, [p.to_dict() for p in plan.problems])
