"""`python -m reelgraph.server` with a run store that fails as a full disk does.

While the file named by REELGRAPH_TEST_STORE_FULL exists, every write to the run
database raises SQLite's own "database or disk is full" error; reads keep working.
The store is swapped in where the server makes it (state.RunStore), so everything
else is the real server."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from reelgraph.server import cli, state
from reelgraph.server.store import RunStore

FLAG = Path(os.environ["REELGRAPH_TEST_STORE_FULL"])
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN IMMEDIATE")


class FullDiskStore(RunStore):
    def _full(self, sql: str) -> None:
        if FLAG.exists() and sql.lstrip().upper().startswith(WRITES):
            raise sqlite3.OperationalError("database or disk is full")

    def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        self._full(sql)
        return super()._exec(sql, args)

    def claim_next(self) -> dict[str, Any] | None:
        self._full("BEGIN IMMEDIATE")
        return super().claim_next()

    def recover(self, quarantine_after: int = 2) -> tuple[list[str], list[str]]:
        return super().recover(quarantine_after)


state.RunStore = FullDiskStore  # type: ignore[misc]

if __name__ == "__main__":
    sys.exit(cli.main())
