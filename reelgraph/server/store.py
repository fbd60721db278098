"""The run queue and history, persisted in SQLite (stdlib).

One row per run. The queue is the set of rows with status 'queued', in `seq`
order. A row is claimed by the worker with a conditional UPDATE, so a cancel
racing the claim is decided by SQLite, not by timing. WAL journal: the file is
consistent after a SIGKILL at any point; `recover()` at start turns a run left
'running' by a killed server back into 'queued' (it is restarted first, having
the lowest seq).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

FINAL = ("finished", "failed", "cancelled")
STATUSES = ("queued", "running", *FINAL)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    status TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    started REAL,
    ended REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    workflow TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    targets TEXT,
    nodes TEXT NOT NULL DEFAULT '{}',
    outputs TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    warnings TEXT NOT NULL DEFAULT '[]',
    summary TEXT NOT NULL DEFAULT '{}',
    crashes INTEGER NOT NULL DEFAULT 0,
    limits TEXT
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""

_JSON_COLUMNS = (
    "workflow",
    "params",
    "targets",
    "nodes",
    "outputs",
    "error",
    "warnings",
    "summary",
    "limits",
)
_LIST_COLUMNS = "seq, id, status, name, created, started, ended, attempts, crashes, error, summary"
# Columns added after the first release: (name, declaration) for ALTER TABLE on older files.
_ADDED_COLUMNS = (("crashes", "INTEGER NOT NULL DEFAULT 0"), ("limits", "TEXT"))


class RunStore:
    """Thread-safe access to the runs table: one SQLite connection per thread.

    With the WAL journal, readers (the API on the event loop) never wait for the
    worker's writes or checkpoints, and writers queue on SQLite's own lock."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        db = self._conn()
        db.execute("PRAGMA journal_mode=WAL")
        have = {r["name"] for r in db.execute("PRAGMA table_info(runs)").fetchall()}
        if have:
            for name, decl in _ADDED_COLUMNS:
                if name not in have:
                    db.execute(f"ALTER TABLE runs ADD COLUMN {name} {decl}")
        db.executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(
                str(self.path), check_same_thread=False, isolation_level=None, timeout=30
            )
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
            with self._conns_lock:
                self._all_conns.append(db)
        return db

    def close(self) -> None:
        with self._conns_lock:
            for db in self._all_conns:
                db.close()
            self._all_conns.clear()

    def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        return self._conn().execute(sql, args)

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self._conn().execute(sql, args).fetchall()

    # -- writing --------------------------------------------------------------
    def add(
        self,
        run_id: str,
        workflow: dict[str, Any],
        params: dict[str, Any],
        targets: list[str] | None,
        name: str,
        limits: dict[str, Any] | None = None,
    ) -> int:
        cur = self._exec(
            "INSERT INTO runs (id, status, name, created, workflow, params, targets, limits)"
            " VALUES (?, 'queued', ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                name.encode("utf-8", "replace").decode("utf-8"),  # no lone surrogates
                time.time(),
                _dumps(workflow),
                _dumps(params),
                _dumps(targets) if targets is not None else None,
                _dumps(limits) if limits is not None else None,
            ),
        )
        return int(cur.lastrowid or 0)

    def recover(self, quarantine_after: int = 2) -> tuple[list[str], list[str]]:
        """Runs a killed server left 'running': each counts a crash. Below `quarantine_after`
        crashes a run goes back to the queue, behind the runs already waiting (a run that
        takes the server down never runs first again); at it, the run is failed for good.
        Returns (requeued ids, quarantined ids)."""
        requeued, quarantined = [], []
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            rows = db.execute(
                "SELECT id, crashes FROM runs WHERE status = 'running' ORDER BY seq"
            ).fetchall()
            for r in rows:
                crashes = int(r["crashes"]) + 1
                if quarantine_after and crashes >= quarantine_after:
                    db.execute(
                        "UPDATE runs SET status = 'failed', ended = ?, crashes = ?, error = ?,"
                        " summary = ? WHERE id = ?",
                        (
                            time.time(),
                            crashes,
                            _dumps(quarantine_error(crashes, "the server stopped while it ran")),
                            _dumps({"status": "failed", "quarantined": True}),
                            r["id"],
                        ),
                    )
                    quarantined.append(r["id"])
                else:
                    db.execute(
                        "UPDATE runs SET status = 'queued', started = NULL, crashes = ?,"
                        " seq = (SELECT MAX(seq) FROM runs) + 1 WHERE id = ?",
                        (crashes, r["id"]),
                    )
                    requeued.append(r["id"])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return requeued, quarantined

    def add_crash(self, run_id: str) -> int:
        """Count one crash of the run's worker; returns the run's crash count."""
        self._exec("UPDATE runs SET crashes = crashes + 1 WHERE id = ?", (run_id,))
        rows = self._all("SELECT crashes FROM runs WHERE id = ?", (run_id,))
        return int(rows[0]["crashes"]) if rows else 0

    def probe(self) -> None:
        """A small real write: raises the store's error while the database cannot be written."""
        self._exec(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('probe', ?)", (str(time.time()),)
        )

    def claim_next(self) -> dict[str, Any] | None:
        """Mark the oldest queued run running and return it (None: queue empty). Gallery
        thumbnail runs wait behind every other run: opening the gallery never delays a
        video someone asked for."""
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")  # the select and the update as one step
        try:
            row = db.execute(
                f"SELECT * FROM runs WHERE status = 'queued' ORDER BY {_BACKGROUND}, seq LIMIT 1"
            ).fetchone()
            if row is not None:
                db.execute(
                    "UPDATE runs SET status = 'running', started = ?, attempts = attempts + 1,"
                    " nodes = '{}', outputs = '{}', error = NULL WHERE id = ?",
                    (time.time(), row["id"]),
                )
                row = db.execute("SELECT * FROM runs WHERE id = ?", (row["id"],)).fetchone()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return _decode(row) if row is not None else None

    def requeue(self, run_id: str) -> None:
        self._exec(
            "UPDATE runs SET status = 'queued', started = NULL WHERE id = ? AND status = 'running'",
            (run_id,),
        )

    def cancel_queued(self, run_id: str) -> bool:
        cur = self._exec(
            "UPDATE runs SET status = 'cancelled', ended = ?, summary = ? WHERE id = ? AND status = 'queued'",
            (time.time(), _dumps({"status": "cancelled", "before_start": True}), run_id),
        )
        return cur.rowcount == 1

    def finish(
        self,
        run_id: str,
        status: str,
        *,
        nodes: dict[str, Any],
        outputs: dict[str, Any],
        error: Any,
        warnings: list[Any],
        summary: dict[str, Any],
    ) -> None:
        self._exec(
            "UPDATE runs SET status = ?, ended = ?, nodes = ?, outputs = ?, error = ?, warnings = ?,"
            " summary = ? WHERE id = ?",
            (
                status,
                time.time(),
                _dumps(nodes),
                _dumps(outputs),
                _dumps(error) if error is not None else None,
                _dumps(warnings),
                _dumps(summary),
                run_id,
            ),
        )

    def delete(self, run_id: str) -> bool:
        cur = self._exec(
            f"DELETE FROM runs WHERE id = ? AND status IN ({','.join('?' * len(FINAL))})",
            (run_id, *FINAL),
        )
        return cur.rowcount == 1

    # -- reading --------------------------------------------------------------
    def get(self, run_id: str) -> dict[str, Any] | None:
        rows = self._all("SELECT * FROM runs WHERE id = ?", (run_id,))
        return _decode(rows[0]) if rows else None

    def status_of(self, run_id: str) -> str | None:
        rows = self._all("SELECT status FROM runs WHERE id = ?", (run_id,))
        return rows[0]["status"] if rows else None

    def page(
        self, *, status: str | None, limit: int, offset: int, oldest_first: bool = False
    ) -> tuple[list[dict[str, Any]], int]:
        """Newest first (or oldest first: `status=queued` in that order is the queue as it will run)."""
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        db = self._conn()
        db.execute("BEGIN")  # one snapshot for the count and the page
        try:
            total = db.execute(f"SELECT COUNT(*) FROM runs {where}", args).fetchone()[0]
            rows = db.execute(
                f"SELECT {_LIST_COLUMNS} FROM runs {where} ORDER BY seq {'ASC' if oldest_first else 'DESC'}"
                " LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
        finally:
            db.execute("COMMIT")
        return [_decode(r) for r in rows], int(total)

    def counts(self) -> dict[str, int]:
        rows = self._all("SELECT status, COUNT(*) AS n FROM runs GROUP BY status")
        out = dict.fromkeys(STATUSES, 0)
        out.update({r["status"]: int(r["n"]) for r in rows})
        return out

    def queue_position(self, run_id: str) -> int | None:
        """1 for the run claimed next, in the order claim_next takes them."""
        rows = self._all(
            f"SELECT COUNT(*) AS n FROM runs AS r, (SELECT seq, {_BACKGROUND} AS bg FROM runs"
            " WHERE id = ? AND status = 'queued') AS me WHERE r.status = 'queued' AND"
            f" ({_BACKGROUND.replace('name', 'r.name')} < me.bg OR"
            f" ({_BACKGROUND.replace('name', 'r.name')} = me.bg AND r.seq <= me.seq))",
            (run_id,),
        )
        n = int(rows[0]["n"]) if rows else 0
        return n or None


# 1 for a run made in the background (a gallery thumbnail), 0 for one a person queued
_BACKGROUND = "(name LIKE 'thumbnail: %')"


def quarantine_error(crashes: int, why: str) -> dict[str, Any]:
    return {
        "message": f"quarantined after {crashes} crashes ({why}): not retried",
        "quarantined": True,
        "crashes": crashes,
    }


def _dumps(value: Any) -> str:
    # Lone surrogates (valid JSON escapes, not valid UTF-8) stay escaped: SQLite stores UTF-8.
    return json.dumps(value, ensure_ascii=True, default=str)


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for col in _JSON_COLUMNS:
        if col in out and isinstance(out[col], str):
            out[col] = json.loads(out[col])
    return out
