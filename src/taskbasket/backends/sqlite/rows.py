"""The SQLite store's rows as tasks: the column lists that statements read, and the
mapping of each row to a ``StoredTask`` (or ``CorruptTask``) or a ``ClaimedTask``.
Times are stored as Unix seconds (REAL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from taskbasket.backends.base import ClaimedTask, StoredTask, columns_without_payload, stored_state
from taskbasket.backends.rows import lenient, stored_or_corrupt
from taskbasket.task import CorruptTask

COLUMNS = (
    "id, name, queue, state, payload, priority, attempts, max_attempts, timeout, unique_key, "
    "last_error, created_at, run_at, started_at, finished_at, lease_expires_at, worker_id, "
    "result, progress, limit_key, snoozes, history, workflow_id"
)
"""A stored task's columns, in the order ``read_row`` takes them."""
COLUMNS_WITHOUT_PAYLOAD = columns_without_payload(COLUMNS)
CLAIMED_COLUMNS = (
    "id, name, queue, payload, priority, attempts, max_attempts, timeout, "
    "created_at, run_at, unique_key, limit_key, snoozes, history"
)
"""A claimed task's columns, in the order ``claimed_task`` takes them."""


def to_datetime(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _row_to_stored(row: tuple[Any, ...]) -> StoredTask:
    return StoredTask(
        id=row[0], name=row[1], queue=row[2], state=stored_state(row[0], row[3]),
        payload=row[4],
        priority=row[5], attempts=row[6], max_attempts=row[7], timeout=row[8],
        unique_key=row[9], last_error=row[10],
        created_at=lenient(to_datetime, row[11]), run_at=lenient(to_datetime, row[12]),
        started_at=lenient(to_datetime, row[13]), finished_at=lenient(to_datetime, row[14]),
        lease_expires_at=lenient(to_datetime, row[15]), worker_id=row[16],
        result=row[17], progress=row[18], limit_key=row[19] or None, snoozes=row[20],
        history=row[21], workflow_id=row[22],
    )


def read_row(row: tuple[Any, ...]) -> StoredTask | CorruptTask:
    """A row of ``COLUMNS`` (or ``COLUMNS_WITHOUT_PAYLOAD``) as a task, or as corrupt."""
    return stored_or_corrupt(row[0], lambda: _row_to_stored(row))


def claimed_task(row: tuple[Any, ...], token: str) -> ClaimedTask:
    """A row of ``CLAIMED_COLUMNS``, claimed under the lease ``token``."""
    return ClaimedTask(
        id=row[0], name=row[1], queue=row[2], payload=row[3], priority=row[4], attempts=row[5],
        max_attempts=row[6], timeout=row[7], lease_token=token,
        created_at=lenient(to_datetime, row[8]), run_at=lenient(to_datetime, row[9]),
        unique_key=row[10], limit_key=row[11] or None, snoozes=row[12], history=row[13],
    )


__all__ = ["CLAIMED_COLUMNS", "COLUMNS", "COLUMNS_WITHOUT_PAYLOAD", "claimed_task",
           "read_row", "to_datetime"]
