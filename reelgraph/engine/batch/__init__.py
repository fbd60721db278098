"""Batches: rows of params -> one run each, sharing the cache; validation of every row,
naming, manifest, resume. `reelgraph batch` is `cli.py`; executors are in
`reelgraph.engine.executors`. See docs/batch.md."""

from .driver import BatchError, BatchPlan, BatchSummary, prepare, run_batch
from .job import RowJob, RowOutcome, execute_row
from .rows import Row, Rows, RowsError, parse_rows, read_rows, rows_from_dicts
from .validate import RowProblem

__all__ = [
    "BatchError",
    "BatchPlan",
    "BatchSummary",
    "Row",
    "RowJob",
    "RowOutcome",
    "RowProblem",
    "Rows",
    "RowsError",
    "execute_row",
    "parse_rows",
    "prepare",
    "read_rows",
    "rows_from_dicts",
    "run_batch",
]
