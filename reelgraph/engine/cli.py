"""`reelgraph run | validate | nodes | cache` (+ subcommands from the
`reelgraph.commands` entry-point group, such as the server's `serve`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from .cache import Cache, DiskCache, MemoryCache, default_cache_dir
from .context import CancelToken
from .errors import Issue, WorkflowError
from .graph import Plan
from .progress import LineProgress, LiveProgress
from .registry import Registry
from .scheduler import Engine, RunResult, new_run_id
from .sources import open_workflow
from .workflow import Workflow, coerce_param

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
WORKFLOW_HELP = (
    "a workflow JSON file, the name of a shipped workflow (e.g. explainer), "
    "or a PNG/WAV/MP4 that carries the workflow that made it"
)


def _console(stderr: bool = True) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _print_issues(issues: list[Issue], console: Any) -> None:
    for i in issues:
        style = "yellow" if i.severity == "warning" else "red"
        label = "warning" if i.severity == "warning" else "error"
        where = ", ".join(
            x
            for x in (
                i.file,
                f"node {i.node!r}" if i.node else None,
                f"input {i.input!r}" if i.input else None,
            )
            if x
        )
        console.print(
            f"[{style}]{label}[/] [bold]{where}[/]: {i.message}"
            if where
            else f"[{style}]{label}[/]: {i.message}",
            markup=True,
            soft_wrap=True,
        )


def _parse_sets(pairs: list[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--set takes NAME=VALUE, got {pair!r}")
        values[name.strip()] = value
    return values


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text!r}")
    return value


def _make_cache(args: argparse.Namespace) -> Cache:
    disk = None
    if not getattr(args, "no_disk_cache", False):
        disk = DiskCache(Path(args.cache_dir) if args.cache_dir else default_cache_dir())
    return Cache(MemoryCache(), disk, disk_min_seconds=args.cache_min_seconds)


def _summary(result: RunResult, console: Any, plan_nodes: dict[str, Any]) -> None:
    from rich.table import Table

    colour = {"finished": "green", "failed": "red", "cancelled": "yellow"}[result.status]
    console.print(
        f"[{colour}]{result.status}[/] in {result.wall_s:.2f} s: {len(result.executed)} executed, "
        f"{len(result.cached)} cached, {len(result.failed)} failed, {len(result.skipped)} skipped"
    )
    if result.executed:
        table = Table(title="slowest nodes", show_edge=False)
        table.add_column("node")
        table.add_column("type")
        table.add_column("seconds", justify="right")
        slowest = sorted(result.executed, key=lambda n: -result.timings.get(n, 0))[:10]
        for nid in slowest:
            table.add_row(nid, plan_nodes[nid].type.id, f"{result.timings.get(nid, 0):.3f}")
        console.print(table)
    for failure in result.failed.values():
        console.print(f"[red]failed[/] {failure}", soft_wrap=True)
        if failure.traceback:
            console.print(failure.traceback.rstrip(), style="dim", soft_wrap=True, markup=False)


def _paths_in(value: Any) -> list[str]:
    if isinstance(value, str) and os.path.isabs(value) and os.path.exists(value):
        return [value]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _paths_in(v)]
    path = getattr(value, "path", None)
    return [str(path)] if isinstance(path, (str, os.PathLike)) and os.path.exists(path) else []


def _params_from_sets(wf: Workflow, pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, raw in _parse_sets(pairs).items():
        ptype = wf.params.get(name, {}).get("type", "TEXT")
        try:
            params[name] = coerce_param(raw, ptype)
        except ValueError as exc:
            raise WorkflowError(
                [Issue("bad_param_value", f"--set {name}: {exc}", file=wf.file)]
            ) from None
    return params


def _discover(console: Any) -> Registry:
    registry = Registry.discover()
    for err in registry.load_errors:
        console.print(f"[yellow]warning[/]: node pack {err.source} failed to load: {err.message}")
    return registry


def _progress_display(args: argparse.Namespace, console: Any, plan: Plan) -> Any:
    """A live bar on a terminal, plain lines on stderr otherwise; None with --quiet."""
    if args.quiet:
        return None

    def type_of(nid: str) -> str:
        pn = plan.nodes.get(nid)
        return pn.type.id if pn is not None else "?"

    if sys.stderr.isatty():
        return LiveProgress(console, type_of)
    return LineProgress(sys.stderr, type_of, interval=args.progress_interval)


ISOLATED_RUNNER_GROUP = "reelgraph.runners"


def _isolated_runner() -> Any:
    """The `isolated` runner of the `reelgraph.runners` entry-point group (the server's
    worker processes); a clear error when no installed package provides one."""
    for ep in entry_points(group=ISOLATED_RUNNER_GROUP):
        if ep.name == "isolated":
            return ep.load()
    raise RuntimeError(
        f"--isolate needs a worker-process runner (entry point '{ISOLATED_RUNNER_GROUP}: "
        "isolated'); reinstall reelgraph"
    )


def _segment_runner(args: argparse.Namespace, console: Any) -> Any:
    """`--executor ray`: the encoders' segments go to Ray workers (None: encode here)."""
    if getattr(args, "executor", "local") != "ray":
        return None
    if getattr(args, "isolate", False):
        raise _UsageError("--isolate and --executor ray cannot be combined")
    from .executors import ExecutorError
    from .executors.ray_executor import RaySegmentRunner

    try:
        runner = RaySegmentRunner(address=args.ray_address, num_cpus=args.workers)
        if args.ray_address:
            runner.start()  # a cluster that cannot be reached is a usage error
    except ExecutorError as exc:
        raise _UsageError(str(exc)) from None
    if not args.quiet:
        # a local Ray starts in the background while the run computes its scenes
        where = f"the Ray cluster at {args.ray_address}" if args.ray_address else "a local Ray"
        console.print(f"[dim]encoding segments on {where}[/]")
    return runner


class _UsageError(Exception):
    """A command line that cannot run (exit 2, message on stderr)."""


def cmd_run(args: argparse.Namespace) -> int:
    console = _console()
    try:
        runner = _segment_runner(args, console)
    except _UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    json_out = sys.stdout
    if runner is not None and args.json:
        # Ray prints a line to stdout for every task it retries (a killed worker):
        # with --json, stdout holds only the result.
        sys.stdout = sys.stderr
    try:
        return _run(args, console, runner, json_out)
    finally:
        try:
            if runner is not None:
                runner.close()
        finally:
            sys.stdout = json_out


def _run(args: argparse.Namespace, console: Any, runner: Any, json_out: Any) -> int:
    engine = None
    try:
        wf = open_workflow(args.workflow)
        params = _params_from_sets(wf, args.set or [])
        registry = _discover(console)
        out_dir = Path(args.out)
        engine = Engine(
            registry,
            _make_cache(args),
            cpu_workers=None if runner is not None else args.workers,
            out_dir=out_dir,
            segment_runner=runner,
        )
        # Planned once, here: the run below executes this plan (fingerprints, such as file
        # hashes, are taken once), and its warnings and node types feed the display.
        run_id = new_run_id()
        plan = engine.plan(
            wf, params=params, targets=args.only or None, out_dir=out_dir, salt=run_id
        )
    except WorkflowError as exc:
        if engine is not None:
            engine.close()
        _print_issues(exc.issues, console)
        return EXIT_INVALID
    _print_issues(plan.warnings, console)
    progress = _progress_display(args, console, plan)
    token = CancelToken()
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            if getattr(args, "isolate", False):
                # The worker-process path the server uses (a crash or a hang costs the run,
                # not the CLI), found through an entry point: the engine never names the server.
                outcome["result"] = _isolated_runner()(
                    wf,
                    params=params,
                    targets=args.only or None,
                    out_dir=out_dir,
                    listener=progress,
                    cancel=token,
                    cache_dir=engine.cache.disk.folder if engine.cache.disk is not None else None,
                )
                return
            outcome["result"] = engine.run_plan(
                plan, run_id=run_id, out_dir=out_dir, listener=progress, cancel=token
            )
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc
        finally:
            done.set()

    # The run happens in a worker so Ctrl+C can cancel it cleanly: running nodes stop at
    # their next cancellation point and everything finished so far stays cached.
    worker = threading.Thread(target=work, name="reelgraph-run", daemon=True)
    if progress is not None:
        progress.start()
    worker.start()
    try:
        # An Event, not Thread.join: a KeyboardInterrupt inside join() can make
        # is_alive() report a still-running thread as finished.
        while not done.is_set():
            try:
                done.wait(0.2)
            except KeyboardInterrupt:
                if token.cancelled:
                    console.print("[red]interrupted again: exiting without waiting[/]")
                    return 130
                console.print("[yellow]cancelling (Ctrl+C again to exit at once)...[/]")
                token.cancel()
    finally:
        if progress is not None:
            progress.close()
        engine.close()
    if "error" in outcome:
        if isinstance(outcome["error"], WorkflowError):
            _print_issues(outcome["error"].issues, console)
            return EXIT_INVALID
        raise outcome["error"]
    result: RunResult = outcome["result"]
    if not args.quiet:
        _summary(result, console, plan.nodes)
    outputs = [
        p for values in result.outputs.values() for v in values.values() for p in _paths_in(v)
    ]
    if args.json:
        print(
            json.dumps(
                {
                    "status": result.status,
                    "run_id": result.run_id,
                    "seconds": result.wall_s,
                    "executed": result.executed,
                    "cached": result.cached,
                    "failed": {k: v.to_dict() for k, v in result.failed.items()},
                    "outputs": outputs,
                    **(
                        {"ray": {"workers": runner.workers, "segments": runner.segments_run}}
                        if runner is not None
                        else {}
                    ),
                }
            ),
            file=json_out,
        )
    else:
        for p in outputs:
            print(p)
    if result.status == "cancelled":
        return 130
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_validate(args: argparse.Namespace) -> int:
    from .graph import validate_workflow

    console = _console()
    registry = Registry.discover()
    worst = EXIT_OK
    for path in args.workflows:
        try:
            issues = validate_workflow(open_workflow(path), registry)
        except WorkflowError as exc:
            issues = exc.issues
        errors = [i for i in issues if i.severity == "error"]
        if args.json:
            print(
                json.dumps(
                    {"file": path, "ok": not errors, "issues": [i.to_dict() for i in issues]}
                )
            )
        else:
            _print_issues(issues, console)
            if not errors:
                console.print(
                    f"[green]ok[/] {path}" + (f" ({len(issues)} warning(s))" if issues else "")
                )
            else:
                console.print(f"[red]{len(errors)} error(s)[/] in {path}")
        if errors:
            worst = EXIT_INVALID
    return worst


def cmd_nodes(args: argparse.Namespace) -> int:
    registry = Registry.discover()
    if args.json:
        print(
            json.dumps(
                {
                    "nodes": registry.schemas(),
                    "load_errors": [
                        {"source": e.source, "message": e.message} for e in registry.load_errors
                    ],
                },
                indent=2,
                default=str,
            )
        )
        return EXIT_OK
    from rich.table import Table

    console = _console(stderr=False)
    table = Table(show_edge=False)
    for col in ("id", "category", "inputs", "outputs"):
        table.add_column(col)
    for nt in registry:
        ins = ", ".join(f"{i.name}:{i.type}" + ("?" if not i.required else "") for i in nt.inputs)
        outs = ", ".join(f"{o.name}:{o.type}" for o in nt.outputs)
        table.add_row(nt.id, nt.category, ins, outs)
    console.print(table)
    for e in registry.load_errors:
        console.print(f"[yellow]warning[/]: node pack {e.source} failed to load: {e.message}")
    return EXIT_OK


def cmd_cache(args: argparse.Namespace) -> int:
    disk = DiskCache(Path(args.cache_dir) if args.cache_dir else default_cache_dir())
    if args.action == "clear":
        n = disk.clear()
        print(f"removed {n} cache entries from {disk.folder}")
    else:
        stats = disk.stats()
        if args.json:
            print(json.dumps(stats))
        else:
            print(f"folder:  {stats['folder']}")
            print(f"entries: {stats['entries']}")
            print(
                f"size:    {stats['bytes'] / 1e6:.1f} MB (limit {stats['max_bytes'] / 1e9:.0f} GB)"
            )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reelgraph", description="Node-graph workflows for AI video."
    )
    parser.add_argument("--version", action="version", version="reelgraph 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a workflow headless")
    run.add_argument("workflow", help=WORKFLOW_HELP)
    run.add_argument(
        "--set", action="append", metavar="PARAM=VALUE", help="set a workflow param (repeatable)"
    )
    run.add_argument("--out", default="out", help="output folder (default: ./out)")
    run.add_argument(
        "--only",
        action="append",
        metavar="NODE",
        help="run only this node and what it needs (repeatable)",
    )
    run.add_argument(
        "--workers", type=int, default=None, help="concurrent CPU nodes (default: CPU count)"
    )
    run.add_argument(
        "--cache-dir",
        default=None,
        help="disk cache folder (default: $REELGRAPH_CACHE_DIR or ~/.cache/reelgraph)",
    )
    run.add_argument("--no-disk-cache", action="store_true", help="keep the cache in memory only")
    run.add_argument(
        "--cache-min-seconds",
        type=float,
        default=0.05,
        metavar="S",
        help="only results that took at least S seconds go to the disk cache (default 0.05)",
    )
    run.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="ray: render and encode the segments of each video on Ray workers in parallel "
        "and join them here (needs reelgraph[ray]; --workers N sizes a local Ray)",
    )
    run.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="with --executor ray: join the Ray cluster at ADDR (default: start a local Ray)",
    )
    run.add_argument(
        "--isolate",
        action="store_true",
        help="run in a separate worker process, as the server does (a crashing node fails the run)",
    )
    run.add_argument("--quiet", "-q", action="store_true", help="no progress display or summary")
    run.add_argument(
        "--progress-interval",
        type=_positive_seconds,
        default=10.0,
        metavar="S",
        help="when stderr is not a terminal, report running nodes every S seconds (default 10)",
    )
    run.add_argument(
        "--json",
        action="store_true",
        help="print only a JSON result on stdout (progress, if any, stays on stderr)",
    )
    run.set_defaults(handler=cmd_run)

    val = sub.add_parser("validate", help="check workflows without running them")
    val.add_argument("workflows", nargs="+", metavar="workflow", help=WORKFLOW_HELP)
    val.add_argument("--json", action="store_true")
    val.set_defaults(handler=cmd_validate)

    nodes = sub.add_parser("nodes", help="list the installed node types")
    nodes.add_argument("--json", action="store_true", help="full schemas as JSON")
    nodes.set_defaults(handler=cmd_nodes)

    cache = sub.add_parser("cache", help="inspect or clear the disk cache")
    cache.add_argument("action", choices=["stats", "clear"])
    cache.add_argument("--cache-dir", default=None)
    cache.add_argument("--json", action="store_true")
    cache.set_defaults(handler=cmd_cache)

    for ep in entry_points(group="reelgraph.commands"):
        try:
            ep.load()(sub)
        except Exception as exc:  # a broken plug-in command must not break the CLI
            print(f"warning: command {ep.name} failed to load: {exc}", file=sys.stderr)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
