"""How values travel between Python and the MySQL store: task ids as 16 bytes, SQL
literals for values written into statements, UTC datetimes, and rows read back as tasks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymysql.converters import escape_string

from taskbasket.backends.base import ClaimedTask, StoredTask, columns_without_payload, stored_state
from taskbasket.backends.rows import lenient, stored_or_corrupt
from taskbasket.task import CorruptTask

COLUMNS = (
    "id, name, queue, state, payload, priority, attempts, max_attempts, timeout, unique_key, "
    "last_error, created_at, run_at, started_at, finished_at, lease_expires_at, worker_id, "
    "result, progress, limit_key, snoozes, history, workflow_id"
)
"""The columns of a task as ``read_row`` reads them."""
COLUMNS_WITHOUT_PAYLOAD = columns_without_payload(COLUMNS)
CLAIM_COLUMNS = (
    "id, name, queue, payload, priority, attempts, max_attempts, timeout, created_at, "
    "run_at, unique_key, limit_key, snoozes, history"
)
"""The columns of a task as ``claimed_task`` reads them."""

_MIN_DATETIME = datetime(1970, 1, 1, tzinfo=UTC)


def id_bytes(task_id: Any) -> bytes | None:
    """A task id as stored (16 bytes), or None if it is no UUID (then it matches nothing)."""
    try:
        return uuid.UUID(str(task_id)).bytes
    except (ValueError, TypeError, AttributeError):
        return None


def id_str(raw: bytes) -> str:
    """A stored id as the task id text."""
    return str(uuid.UUID(bytes=bytes(raw)))


def quote(text: str) -> str:
    """A string literal for the store's own sessions (their sql_mode keeps backslashes)."""
    return f"'{escape_string(text)}'"


def hex_literal(raw: bytes) -> str:
    """Bytes as an SQL literal: ``X'00ff'``."""
    return f"X'{raw.hex()}'"


def datetime_literal(value: datetime) -> str:
    """An aware (or UTC-naive) datetime as a DATETIME(6) literal in UTC."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        value = value.astimezone(UTC)
    else:
        value = value.replace(tzinfo=UTC)
    value = max(value, _MIN_DATETIME)  # DATETIME starts at year 1000; the past is past
    return f"CAST('{value.strftime('%Y-%m-%d %H:%M:%S.%f')}' AS DATETIME(6))"


def micros(seconds: float) -> int:
    """Seconds as whole microseconds, never below 0 (for ``INTERVAL ... MICROSECOND``)."""
    return max(0, round(seconds * 1_000_000))


def aware(value: datetime | None) -> datetime | None:
    """A DATETIME read back (the session's time zone is UTC) as an aware datetime."""
    return None if value is None else value.replace(tzinfo=UTC)


def decode(value: Any) -> str | None:
    """A VARBINARY column's value as text."""
    if value is None:
        return None
    return value.decode("utf-8") if isinstance(value, bytes | bytearray) else str(value)


def _row_to_stored(row: Sequence[Any]) -> StoredTask:
    task_id = id_str(row[0])
    return StoredTask(
        id=task_id, name=row[1], queue=row[2], state=stored_state(task_id, row[3]),
        payload=row[4],
        priority=row[5], attempts=row[6], max_attempts=row[7], timeout=float(row[8]),
        unique_key=decode(row[9]), last_error=row[10],
        created_at=lenient(aware, row[11]), run_at=lenient(aware, row[12]),
        started_at=lenient(aware, row[13]), finished_at=lenient(aware, row[14]),
        lease_expires_at=lenient(aware, row[15]), worker_id=row[16],
        result=row[17], progress=row[18], limit_key=row[19] or None, snoozes=row[20],
        history=row[21], workflow_id=None if row[22] is None else id_str(row[22]),
    )


def read_row(row: Sequence[Any]) -> StoredTask | CorruptTask:
    """A row of ``COLUMNS`` (or ``COLUMNS_WITHOUT_PAYLOAD``) as a task."""
    return stored_or_corrupt(id_str(row[0]), lambda: _row_to_stored(row))


def claimed_task(row: Sequence[Any], token: str, added: int) -> ClaimedTask:
    """A row of ``CLAIM_COLUMNS`` as a claimed task; ``added`` attempts were counted."""
    return ClaimedTask(
        id=id_str(row[0]), name=row[1], queue=row[2], payload=row[3], priority=row[4],
        attempts=row[5] + added, max_attempts=row[6], timeout=float(row[7]),
        lease_token=token, created_at=lenient(aware, row[8]),
        run_at=lenient(aware, row[9]), unique_key=decode(row[10]),
        limit_key=row[11] or None, snoozes=row[12], history=row[13],
    )


__all__ = ["CLAIM_COLUMNS", "COLUMNS", "COLUMNS_WITHOUT_PAYLOAD", "aware", "claimed_task",
           "datetime_literal", "decode", "hex_literal", "id_bytes", "id_str", "micros", "quote",
           "read_row"]
