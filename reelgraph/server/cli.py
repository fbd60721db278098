"""`reelgraph serve`: the editor and HTTP API server.

Registered in the `reelgraph.commands` entry-point group (`add_command`), so
the engine's CLI never imports the server by name, and importing this module
imports no aiohttp; `python -m reelgraph.server` runs
the same command on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .limits import RunLimits

if TYPE_CHECKING:
    from aiohttp import web

    from .app import ServerConfig


def add_command(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "serve",
        help="run the editor and HTTP API server",
        description="Serve the editor (web/) and the HTTP + WebSocket API.",
    )
    configure(p)
    p.set_defaults(handler=serve)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; anything else needs --token)",
    )
    p.add_argument("--port", type=int, default=8188, help="port (default 8188; 0 picks a free one)")
    p.add_argument(
        "--token",
        default=os.environ.get("REELGRAPH_TOKEN") or None,
        help="require this token on every request (env REELGRAPH_TOKEN)",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="folder for workflows, uploads, outputs, cache and the run database "
        "(env REELGRAPH_DATA, default ~/.local/share/reelgraph)",
    )
    p.add_argument(
        "--web", type=Path, default=None, help="folder served as the editor (default web/)"
    )
    p.add_argument(
        "--templates",
        type=Path,
        default=None,
        help="folder of template workflows (default workflows/)",
    )
    p.add_argument(
        "--custom-nodes",
        type=Path,
        action="append",
        default=None,
        help="extra custom-nodes folder (repeatable; default ./custom_nodes and REELGRAPH_CUSTOM_NODES)",
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        help="extra Host name to answer without a token (e.g. a local alias)",
    )
    p.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        help="extra origin trusted for writes and the WebSocket, e.g. https://reel.example "
        "behind a TLS proxy (the server's own origin always is)",
    )
    p.add_argument("--max-upload-mb", type=int, default=1024, help="largest accepted upload (MiB)")
    p.add_argument(
        "--max-body-mb", type=int, default=32, help="largest accepted JSON body (MiB, default 32)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes executing runs (default 1); each keeps its own warm models",
    )
    p.add_argument(
        "--cancel-grace-s",
        type=float,
        default=5.0,
        help="seconds a cancelled run gets to stop by itself before its worker is killed (default 5)",
    )
    p.add_argument(
        "--quarantine-after",
        type=int,
        default=2,
        help="crashes after which a run is failed and never retried (default 2; 0: never)",
    )
    defaults = RunLimits.defaults()
    p.add_argument(
        "--run-memory-mb",
        type=int,
        default=defaults.memory_mb,
        help=f"memory one run may use (MiB; default 3/4 of RAM = {defaults.memory_mb}; 0: none)",
    )
    p.add_argument(
        "--run-timeout-s",
        type=float,
        default=defaults.seconds,
        help=f"wall time one run may take (s; default {defaults.seconds:g}; 0: none)",
    )
    p.add_argument(
        "--run-output-mb",
        type=int,
        default=defaults.output_mb,
        help=f"bytes of files one run may write (MiB; default {defaults.output_mb}; 0: none)",
    )
    p.add_argument(
        "--confine-loaders",
        action="store_true",
        help="loader nodes may read only the uploads and models folders (for shared servers)",
    )
    p.add_argument(
        "--port-file",
        type=Path,
        default=None,
        help="write the bound port to this file once listening (for scripts and tests)",
    )


def serve(args: argparse.Namespace) -> int:
    # aiohttp (and the server's modules) load only here: `reelgraph --help`, `run` and
    # `nodes` register this command without paying for them.
    from .security import is_loopback

    if not is_loopback(args.host) and not args.token:
        print(
            f"refusing to bind {args.host}: a non-loopback address needs --token "
            "(anyone who can reach it could run workflows and read outputs)",
            file=sys.stderr,
        )
        return 2
    from .app import ServerConfig, create_app

    config = ServerConfig(
        host=args.host,
        port=args.port,
        token=args.token,
        allow_hosts=set(args.allow_host),
        allow_origins=set(args.allow_origin),
        max_upload=args.max_upload_mb << 20,
        max_body=args.max_body_mb << 20,
        workers=max(1, args.workers),
        cancel_grace_s=max(0.0, args.cancel_grace_s),
        quarantine_after=max(0, args.quarantine_after),
        limits=RunLimits(
            memory_mb=max(0, args.run_memory_mb),
            seconds=max(0.0, args.run_timeout_s),
            output_mb=max(0, args.run_output_mb),
        ),
        confine_loaders=args.confine_loaders,
    )
    if args.data is not None:
        config.data_dir = args.data
    if args.web is not None:
        config.web_dir = args.web
    if args.templates is not None:
        config.templates_dir = args.templates
    if args.custom_nodes:
        from reelgraph.engine.registry import default_custom_node_dirs

        config.custom_nodes = [*default_custom_node_dirs(), *args.custom_nodes]
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    from .app import DataDirInUse, DataDirUnsafe

    try:
        app = create_app(config)
    except (DataDirInUse, DataDirUnsafe) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return asyncio.run(_run(app, config, args.port_file))


async def _run(app: web.Application, config: ServerConfig, port_file: Path | None) -> int:
    from aiohttp import web

    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    host = config.host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, config.port))
    except OSError as exc:
        print(f"cannot listen on {host}:{config.port}: {exc.strerror}", file=sys.stderr)
        await runner.cleanup()
        return 1
    site = web.SockSite(runner, sock)
    await site.start()
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    token = config.token
    print(
        f"reelgraph serving http://{shown}:{port}/" + (f"?token={token}" if token else ""),
        flush=True,
    )
    if port_file is not None:
        tmp = port_file.with_name(port_file.name + ".tmp")
        tmp.write_text(str(port))
        os.replace(tmp, port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    except NotImplementedError:  # no signal handlers on this platform's loop: Ctrl-C ends the sleep
        with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
            while True:
                await asyncio.sleep(3600)
    await runner.cleanup()
    # Everything is saved and the workers are stopped. A validation thread may still be
    # stuck (a hostile document, a FIFO path): do not wait for it at interpreter exit.
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reelgraph")
    sub = parser.add_subparsers(dest="command", required=True)
    add_command(sub)
    args = parser.parse_args(["serve", *(argv if argv is not None else sys.argv[1:])])
    return int(args.handler(args))
