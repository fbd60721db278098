"""A row's files, from its staging folder to DIR under the row's stem.

A workflow names its files itself ("explainer.mp4", "explainer.srt"); in a batch
they become "<stem>.mp4" and "<stem>.srt", so rows never collide. Two files of the
same kind in one row keep their own name after the stem ("<stem>-poster.png").
Each file is renamed into place, which is atomic on one filesystem: DIR never
holds half a file.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from .manifest import MANIFEST_CSV, MANIFEST_JSON, describe_file
from .naming import sanitise

STAGING = ".staging"


def _suffix(name: str) -> str:
    p = Path(name)
    return "".join(p.suffixes[-1:]).lower() if p.suffix else ""


def final_names(stem: str, staged: list[str]) -> dict[str, str]:
    """staged name (relative) -> name in DIR."""
    kinds = Counter(_suffix(n) for n in staged)
    out: dict[str, str] = {}
    for name in staged:
        suffix = _suffix(name)
        if kinds[suffix] == 1:
            final = f"{stem}{suffix}"
        else:
            own = sanitise(str(Path(name).with_suffix("")).replace(os.sep, "-"))
            final = f"{stem}-{own}{suffix}"
        while final in out.values():  # two staged names that sanitise alike
            final = f"{Path(final).stem}-{len(out)}{suffix}"
        out[name] = final
    return out


def publish(
    stage: Path, out_dir: Path, stem: str, staged: list[str], payload: dict[str, bytes] | None
) -> list[dict[str, Any]]:
    """Move (or, for files shipped from another machine, write) a row's files into
    `out_dir`; returns their manifest entries (name, bytes, hash)."""
    stage.mkdir(parents=True, exist_ok=True)
    if payload is not None:
        for name, data in payload.items():
            p = stage / name
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_name(f".{p.name}.part")
            tmp.write_bytes(data)
            os.replace(tmp, p)
    entries = []
    for name, final in final_names(stem, staged).items():
        dest = out_dir / final
        os.replace(stage / name, dest)
        entries.append(describe_file(dest))
    shutil.rmtree(stage, ignore_errors=True)
    return entries


def existing_stems(out_dir: Path, owned: set[str]) -> set[str]:
    """Stems of files already in DIR that this batch did not write (never overwritten)."""
    taken: set[str] = set()
    if not out_dir.is_dir():
        return taken
    for p in out_dir.iterdir():
        if p.name.startswith(".") or p.name in (MANIFEST_JSON, MANIFEST_CSV) or p.name in owned:
            continue
        taken.add(p.name.split(".")[0])
        taken.add(p.stem)
    return taken
