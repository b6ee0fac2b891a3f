"""PostgreSQL's rows as taskbasket's records: a stored task read with
``statements.COLUMNS`` (a row that cannot be read is a ``CorruptTask``), and a claimed
task read from the ``claim()`` functions' columns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from taskbasket.backends.base import ClaimedTask, StoredTask, stored_state
from taskbasket.backends.rows import lenient, stored_or_corrupt
from taskbasket.task import CorruptTask


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _row_to_stored(row: Sequence[Any]) -> StoredTask:
    return StoredTask(
        id=row[0], name=row[1], queue=row[2], state=stored_state(row[0], row[3]),
        payload=row[4],
        priority=row[5], attempts=row[6], max_attempts=row[7], timeout=row[8],
        unique_key=row[9], last_error=row[10], created_at=lenient(_utc, row[11]),
        run_at=lenient(_utc, row[12]), started_at=lenient(_utc, row[13]),
        finished_at=lenient(_utc, row[14]), lease_expires_at=lenient(_utc, row[15]),
        worker_id=row[16], result=row[17], progress=row[18], limit_key=row[19] or None,
        snoozes=row[20], history=row[21], workflow_id=row[22],
    )


def read_row(row: Sequence[Any]) -> StoredTask | CorruptTask:
    """A row of ``COLUMNS`` (or ``COLUMNS_WITHOUT_PAYLOAD``) as a task, or as corrupt."""
    return stored_or_corrupt(row[0], lambda: _row_to_stored(row))


def claimed_task(row: Sequence[Any], token: str) -> ClaimedTask:
    """A row the claim returned, leased with ``token``."""
    return ClaimedTask(
        id=row[0], name=row[1], queue=row[2], payload=row[3], priority=row[4],
        attempts=row[5], max_attempts=row[6], timeout=row[7], lease_token=token,
        created_at=lenient(_utc, row[8]), run_at=lenient(_utc, row[9]), unique_key=row[10],
        limit_key=row[11] or None, snoozes=row[12], history=row[13],
    )


__all__ = ["claimed_task", "read_row"]
