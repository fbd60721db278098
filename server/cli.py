"""`reelgraph serve` (placeholder entry point until the server issue lands)."""

from __future__ import annotations

import argparse


def add_command(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("serve", help="run the editor and HTTP API server")
    p.set_defaults(handler=lambda args: (print("the server is not built yet"), 2)[1])
