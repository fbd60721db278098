"""`reelgraph scenes TEXTFILE [--seconds N] [--json]`: the scenes a text becomes, to check
a script before rendering. Registered in the `reelgraph.commands` entry-point group."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_command(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "scenes",
        help="print the scenes a script becomes (title, narration, visual prompt, seconds)",
        description="Split a script the way text.SplitScenes does and print its scenes. "
        "TEXTFILE may be Markdown, a plain article, bullets, SRT or WebVTT; '-' reads stdin.",
    )
    p.add_argument("textfile", help="the script (UTF-8 text), or - for stdin")
    p.add_argument("--seconds", type=float, default=90.0, help="longest narration per scene")
    p.add_argument(
        "--mode", default="auto", choices=("auto", "headings", "paragraphs", "sentences")
    )
    p.add_argument("--language", default="auto", help="ISO code, or auto (detected)")
    p.add_argument("--json", action="store_true", help="print the scene table as JSON")
    p.set_defaults(handler=run)


def read_script(name: str) -> str:
    data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{name}: not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 1]!r})"
        ) from None


def run(args: argparse.Namespace) -> int:
    from ..text import parse_scenes, scene_table
    from .assemble import EmptyScript
    from .structure import NotText

    try:
        text = read_script(args.textfile)
        scenes = parse_scenes(text, args.mode, 0, args.seconds, args.language)
    except (OSError, ValueError) as exc:
        kind = "script" if isinstance(exc, (EmptyScript, NotText)) else "file"
        print(f"error: {args.textfile}: {kind}: {exc}", file=sys.stderr)
        return 2
    try:
        return _print(scenes, scene_table(scenes), args.json)
    except BrokenPipeError:  # `reelgraph scenes x.txt | head`
        return 0


def _print(scenes: list, table: dict, as_json: bool) -> int:
    if as_json:
        print(json.dumps(table, ensure_ascii=False, indent=2))
        return 0
    for s in scenes:
        print(f"## {s.index + 1}. {s.title}   [{s.seconds:.0f} s, {s.language}, {s.tone}]")
        print(f"   visual: {s.visual}")
        print(f"   {s.narration}")
        print()
    print(f"{len(scenes)} scenes, about {table['total_seconds']:.0f} s of narration")
    return 0
