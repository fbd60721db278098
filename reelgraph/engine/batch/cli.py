"""`reelgraph batch WORKFLOW ROWS --out DIR`: one video per row of a spreadsheet.

Registered through the `reelgraph.commands` entry-point group, like `serve`.
Exit status: 0 every row succeeded, 1 some failed, 2 none is valid (or the
batch cannot start), 130 cancelled.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..cache import default_cache_dir
from ..errors import WorkflowError
from .driver import EXIT_CANCELLED, EXIT_NONE_VALID, BatchError, prepare, run_batch
from .progress import BatchProgress
from .resolve import resolve_workflow
from .rows import RowsError, read_rows

VOICE_THREADS_ENV = "REELGRAPH_VOICE_THREADS"  # read by nodes/tts.py voice_threads()


def add_command(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "batch",
        help="render one video per row of a CSV / TSV / JSONL / XLSX file",
        description="Render WORKFLOW once per row of ROWS (columns named after the "
        "workflow's params) into DIR, with a manifest (batch.csv, batch.json). Re-running "
        "the same command skips finished rows.",
    )
    p.add_argument(
        "workflow", help="workflow JSON, shipped workflow name, or a file that carries one"
    )
    p.add_argument("rows", help="rows: .csv, .tsv, .jsonl or .xlsx")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--name",
        default=None,
        metavar="TEMPLATE",
        help="output file stem from columns, e.g. '{name}-{city}' ({row} is the row number; "
        "default: row number and first column)",
    )
    p.add_argument(
        "--executor",
        choices=("local", "processes", "ray"),
        default="local",
        help="local: threads sharing one cache (default); processes: local worker "
        'processes; ray: Ray tasks (pip install "reelgraph[ray]")',
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="rows at a time (default: 1 local; Ray: the cluster's CPUs)",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="join this Ray cluster (default: join the Ray `ray start` runs on this "
        "machine, else start a local Ray; 'local': always start a local Ray of its own)",
    )
    p.add_argument("--dry-run", action="store_true", help="validate every row and stop")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument(
        "--cache-dir",
        default=None,
        help="disk cache folder shared by all rows and workers "
        "(default: $REELGRAPH_CACHE_DIR or ~/.cache/reelgraph)",
    )
    p.add_argument("--no-disk-cache", action="store_true", help="share results in memory only")
    p.add_argument(
        "--ignore-unknown-columns",
        action="store_true",
        help="allow columns that are no param of the workflow (they are ignored)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    p.set_defaults(handler=cmd_batch)


@contextlib.contextmanager
def one_voice_thread_a_call(side_by_side: bool) -> Iterator[None]:
    """Rows side by side on this machine (the local executor's, the Ray driver's) fill
    the cores already: each voice-model call gets one thread (REELGRAPH_VOICE_THREADS,
    unless set), not two, which cost 9% more CPU for 20 rows on 2 cores (a call's
    second thread mostly waits) and 4-6% of the wall time. The pilot's sentences
    still run side by side. Before the batch's first voice loads (the thread count is
    fixed when a voice is loaded, for the process's life); Ray's workers do the same
    (`RowWorker`). One thread's samples can differ from two threads' in the last bits
    (onnxruntime sums in another order; durations and timings, and so the frames, were
    the same in every sentence tried)."""
    if not side_by_side or VOICE_THREADS_ENV in os.environ:
        yield
        return
    os.environ[VOICE_THREADS_ENV] = "1"
    try:
        yield
    finally:
        os.environ.pop(VOICE_THREADS_ENV, None)


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# Where --json writes. While a batch runs, sys.stdout is stderr: a library's own
# messages (Ray prints one to stdout for every row it retries) must not land in the
# JSON a program reads.
_JSON_OUT = sys.stdout


def _emit(text: str) -> None:
    print(text, file=_JSON_OUT, flush=True)


def _print_problems(problems: list[Any]) -> None:
    for prob in problems:
        _say(f"error: {prob}")


def cmd_batch(args: argparse.Namespace) -> int:
    global _JSON_OUT
    _JSON_OUT = sys.stdout
    if not args.json:
        return _cmd_batch(args)
    sys.stdout = sys.stderr
    try:
        return _cmd_batch(args)
    finally:
        sys.stdout = _JSON_OUT


def _cmd_batch(args: argparse.Namespace) -> int:
    out_dir = Path(args.out)
    try:
        workflow = resolve_workflow(args.workflow)
        rows = read_rows(args.rows)
    except WorkflowError as exc:
        for issue in exc.issues:
            _say(f"error: {issue}")
        return EXIT_NONE_VALID
    except RowsError as exc:
        _say(f"error: {exc}")
        return EXIT_NONE_VALID
    cache_dir = (
        None
        if args.no_disk_cache
        else str(Path(args.cache_dir) if args.cache_dir else default_cache_dir())
    )
    from ..executors import ExecutorError, make_executor

    # Made before the rows are checked and planned: a local Ray starts in the
    # background meanwhile (seconds), and a cluster that cannot be reached is said
    # before any work. A dry run starts nothing.
    executor = None
    if not args.dry_run:
        workers = args.workers or (0 if args.executor == "ray" else 1)
        try:
            executor = make_executor(
                args.executor, workers=workers, cache_dir=cache_dir, ray_address=args.ray_address
            )
        except ExecutorError as exc:
            _say(f"error: {exc}")
            return EXIT_NONE_VALID
    # Before the first voice loads (the prewarm below may load it): its thread count is
    # fixed for the process's life.
    side_by_side = (args.workers or 1) > 1 if args.executor == "local" else args.executor == "ray"
    try:
        with one_voice_thread_a_call(side_by_side and executor is not None):
            if executor is not None:
                executor.prewarm(workflow.doc)
            return _plan_and_run(args, workflow, rows, out_dir, cache_dir, executor)
    finally:
        if executor is not None:
            executor.close()


def _plan_and_run(
    args: argparse.Namespace,
    workflow: Any,
    rows: Any,
    out_dir: Path,
    cache_dir: str | None,
    executor: Any,
) -> int:
    from ..registry import Registry

    registry = Registry.discover()
    try:
        plan = prepare(
            workflow,
            rows,
            out_dir,
            registry,
            name_template=args.name,
            ignore_unknown_columns=args.ignore_unknown_columns,
        )
    except BatchError as exc:
        _print_problems(exc.problems)
        if args.json:
            _emit(
                json.dumps(
                    {
                        "status": "none_valid",
                        "exit_code": EXIT_NONE_VALID,
                        "problems": [p.to_dict() for p in exc.problems],
                    }
                )
            )
        return EXIT_NONE_VALID
    _print_problems(plan.problems)
    valid = plan.valid_rows
    if not args.quiet:
        _say(
            f"{len(plan.entries)} rows: {len(valid)} valid, {len(plan.entries) - len(valid)} "
            f"invalid, {len(plan.resumed)} already done"
        )
    if args.dry_run:
        report = {"status": "dry_run", **plan.to_report()}
        if args.json:
            _emit(json.dumps(report, ensure_ascii=False))
        elif not args.quiet:
            for e in plan.entries.values():
                _say(f"  row {e.number}: {e.stem} ({e.status})")
        return 0 if len(valid) == len(plan.entries) else (1 if valid else EXIT_NONE_VALID)
    if not valid:
        if args.json:
            _emit(
                json.dumps(
                    {"status": "none_valid", "exit_code": EXIT_NONE_VALID, **plan.to_report()}
                )
            )
        return EXIT_NONE_VALID
    cpus = os.cpu_count() or 1
    cpu_workers = max(1, cpus // max(1, executor.workers)) if args.executor == "local" else 1
    todo = len(valid) - len(plan.resumed)
    progress = BatchProgress(todo, quiet=args.quiet)
    # SIGTERM stops the batch the way Ctrl+C does: running rows end, the manifest is kept.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        summary = run_batch(
            plan,
            executor,
            cache_dir=cache_dir,
            cpu_workers=cpu_workers,
            pilot_cpu_workers=cpus if args.executor == "local" else None,
            progress=progress,
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    t = summary.totals
    if not args.quiet:
        _say(
            f"{summary.status}: {t['ok']} ok, {t['failed']} failed, {t['invalid']} invalid, "
            f"{t['resumed']} resumed, {t['cancelled']} cancelled in {t['wall_s']:.1f} s"
        )
        _say(
            f"shared work: {t['node_executions']} node executions instead of "
            f"{t['node_executions_naive']} ({t['node_executions_saved']} saved); "
            f"{t['encoded_frames']} frames encoded instead of {t['encoded_frames_naive']} "
            f"({t['encoded_frames_saved']} saved)"
        )
        for r in summary.rows:
            if r["status"] in ("failed", "invalid") and r.get("error"):
                err = r["error"]
                where = ", ".join(
                    f"{k} {err[k]!r}" for k in ("column", "node", "input") if err.get(k)
                )
                _say(
                    f"row {r['row']} {r['status']}"
                    + (f" ({where})" if where else "")
                    + f": {err.get('message', '')}"
                )
        _say(f"manifest: {out_dir / 'batch.csv'}")
    if args.json:
        _emit(json.dumps(summary.to_dict(), ensure_ascii=False, default=str))
    return EXIT_CANCELLED if summary.status == "cancelled" else summary.exit_code
