"""The SQLite store's statement texts, with ``?`` placeholders; the comment on each names
its parameters in order. Which statement runs, and with what, is the backend's business.

Lease fences (``WHERE id=? AND lease_token=? AND state='running'``) make every change to
a running task conditional on still holding its lease.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from taskbasket.backends.base import ClaimOrder
from taskbasket.backends.sql_filters import SQL_FINAL, FilterDialect, Fragment
from taskbasket.backends.sqlite.rows import CLAIMED_COLUMNS, COLUMNS, COLUMNS_WITHOUT_PAYLOAD
from taskbasket.backends.sqlite.schema import LEADERS, QUEUES, TABLE


def placeholders(values: Sequence[Any]) -> str:
    """``?,?,?``: one placeholder per value."""
    return ",".join("?" * len(values))


def _values(column: str, values: Sequence[str]) -> Fragment:
    return f"{column} IN ({placeholders(values)})", list(values)


def _finished_before(seconds: float) -> Fragment:
    return "finished_at < ?", [time.time() - seconds]


FILTERS = FilterDialect(
    true="1", false="0",
    ids=lambda ids: _values("id", ids),
    values=_values,
    finished_before=_finished_before,
    workflow=lambda workflow_id: ("(workflow_id = ? OR id = ?)", [workflow_id, workflow_id]),
)
"""SQLite's fragments for ``sql_filters.filter_where``; this host's clock ages tasks."""


def claim_sql(
    name_count: int | None, queue_count: int | None, count_attempt: bool = True,
    order: ClaimOrder = ClaimOrder.PRIORITY,
) -> str:
    """The claim statement. It reads two bounded ranges and merges them: queued tasks
    through the queued index of ``order``, in that order, and due scheduled or retrying
    tasks through ``_due`` by run_at, each up to the limit; the union's first ``limit``
    in ``order`` are claimed. So a claim never walks past tasks that are not due yet,
    only past those of other names or queues. The one approximation: among more due
    scheduled or retrying tasks than the limit, the earliest run_at come first (the
    stager queues them within its interval, after which the order is exact). A count
    of None means any name or queue.

    Named parameters (see ``claim_parameters``): token, expires, now, worker, limit,
    and name0.., queue0.."""
    where = claim_where(name_count, queue_count)
    attempts = "attempts+1" if count_attempt else "attempts"
    queued_index, order_by = (
        (f"{TABLE}_queued_created", "id") if order is ClaimOrder.CREATED
        else (f"{TABLE}_queued", "priority DESC, run_at, id")
    )
    queued = (
        f"SELECT id, priority, run_at FROM {TABLE} INDEXED BY {queued_index} "
        f"WHERE state='queued' AND run_at <= :now{where} ORDER BY {order_by} LIMIT :limit"
    )
    due = (
        f"SELECT id, priority, run_at FROM {TABLE} INDEXED BY {TABLE}_due "
        f"WHERE state IN ('scheduled','retrying') AND run_at <= :now{where} "
        "ORDER BY run_at LIMIT :limit"
    )
    return (
        f"UPDATE {TABLE} SET state='running', attempts={attempts}, lease_token=:token, "
        "lease_expires_at=:expires, started_at=:now, worker_id=:worker "
        f"WHERE id IN (SELECT id FROM (SELECT * FROM ({queued}) UNION ALL "
        f"SELECT * FROM ({due})) ORDER BY {order_by} LIMIT :limit) "
        f"RETURNING {CLAIMED_COLUMNS}"
    )


def claim_where(name_count: int | None, queue_count: int | None, excluded: int = 0) -> str:
    """The claim's filter: its names and queues (None: any), never a paused queue, nor
    the ``excluded`` queues (parameters :excluded0..)."""
    where = f" AND queue NOT IN (SELECT name FROM {QUEUES} WHERE paused=1)"
    if name_count is not None:
        where += f" AND name IN ({','.join(f':name{i}' for i in range(name_count))})"
    if queue_count is not None:
        where += f" AND queue IN ({','.join(f':queue{i}' for i in range(queue_count))})"
    if excluded:
        where += f" AND queue NOT IN ({','.join(f':excluded{i}' for i in range(excluded))})"
    return where


def claim_parameters(
    token: str, expires: float, now: float, worker: str,
    names: Sequence[str] | None, queues: Sequence[str] | None, limit: int,
) -> dict[str, Any]:
    """The named parameters of ``claim_sql`` (names and queues None: any)."""
    parameters: dict[str, Any] = {
        "token": token, "expires": expires, "now": now, "worker": worker, "limit": limit}
    parameters.update({f"name{i}": name for i, name in enumerate(names or ())})
    parameters.update({f"queue{i}": queue for i, queue in enumerate(queues or ())})
    return parameters


# ------------------------------------------------------------------ producers

INSERT = (
    f"INSERT INTO {TABLE} (id, name, queue, state, payload, priority, max_attempts, "
    "timeout, unique_key, created_at, run_at, limit_key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)
"""Parameters: the columns it names, in order."""
INSERT_UNIQUE = INSERT + " ON CONFLICT DO NOTHING"
"""As ``INSERT``; nothing when an unfinished task has the same unique key."""
UNFINISHED_WITH_KEY = f"SELECT id FROM {TABLE} WHERE unique_key = ? AND state NOT IN {SQL_FINAL}"
"""Parameters: the unique key."""
HAS_TABLE = "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?"
"""Parameters: the table name."""

# ------------------------------------------------------------------ workers

_FENCE = "WHERE id=? AND lease_token=? AND state='running'"
_CLEAR_LEASE = "lease_token=NULL, lease_expires_at=NULL"

EXTEND_LEASE = f"UPDATE {TABLE} SET lease_expires_at=? {_FENCE}"
"""Parameters: the new expiry, task id, lease token."""
FINISH_DELETE = f"DELETE FROM {TABLE} {_FENCE}"
"""Parameters: task id, lease token."""
_HISTORY = "history=coalesce(?, history)"
FINISH_SUCCEEDED = (
    f"UPDATE {TABLE} SET state='succeeded', finished_at=?, result=?, {_HISTORY}, "
    f"{_CLEAR_LEASE} {_FENCE}"
)
"""Parameters: now, the encoded result (or None), the history (None: kept), task id,
lease token."""
PROGRESS = f"UPDATE {TABLE} SET progress=? {_FENCE}"
"""Parameters: the progress JSON, task id, lease token."""
FINISH_FAILED = (
    f"UPDATE {TABLE} SET state='failed', finished_at=?, last_error=?, {_HISTORY}, "
    f"{_CLEAR_LEASE} {_FENCE}"
)
"""Parameters: now, error, the history (None: kept), task id, lease token."""
FINISH_RETRY = (
    f"UPDATE {TABLE} SET state='retrying', run_at=?, last_error=?, {_HISTORY}, "
    f"{_CLEAR_LEASE} {_FENCE}"
)
"""Parameters: when to run again, error, the history (None: kept), task id, lease token."""
FINISH_DEFER = (
    f"UPDATE {TABLE} SET state='scheduled', run_at=?, attempts=max(attempts-1, 0), "
    f"snoozes=snoozes+?, {_HISTORY}, {_CLEAR_LEASE} {_FENCE}"
)
"""Parameters: when to run again, the snoozes added, the history (None: kept), task id,
lease token. The claim's attempt is given back."""
FINISH_RELEASE = (
    f"UPDATE {TABLE} SET state='queued', attempts=max(attempts-1, 0), "
    f"started_at=NULL, worker_id=NULL, {_CLEAR_LEASE} {_FENCE}"
)
"""Parameters: task id, lease token. The claim's attempt is given back."""

# ------------------------------------------------------------------ maintenance

EXPIRED_LEASES = (
    f"SELECT id, lease_token, name, queue, attempts, max_attempts, worker_id, started_at, "
    f"history FROM {TABLE} "
    "WHERE state='running' AND lease_expires_at < ? ORDER BY lease_expires_at LIMIT ?"
)
"""Parameters: now, the limit."""

_EXPIRED_FENCE = f"{_FENCE} AND lease_expires_at < ?"
RESCUE_FAIL = (
    f"UPDATE {TABLE} SET state='failed', finished_at=?, last_error=?, {_HISTORY}, "
    f"{_CLEAR_LEASE} {_EXPIRED_FENCE}"
)
"""Parameters: now, error, the history (None: kept), task id, lease token, now."""
RESCUE_REQUEUE = (
    f"UPDATE {TABLE} SET state=?, run_at=?, last_error=?, {_HISTORY}, {_CLEAR_LEASE} "
    f"{_EXPIRED_FENCE}"
)
"""Parameters: the new state, when to run, error, the history (None: kept), task id, lease
token, now."""

# through the due index: the range of due tasks only, never the tasks scheduled later
_DUE = f"{TABLE} INDEXED BY {TABLE}_due WHERE state IN ('scheduled','retrying') AND run_at <= ?"
ANY_DUE = f"SELECT 1 FROM {_DUE} LIMIT 1"
"""Parameters: now. A cheap read: most promotions find nothing and need no write lock."""
PROMOTE = f"UPDATE {TABLE} SET state='queued' WHERE id IN (SELECT id FROM {_DUE} LIMIT ?)"
"""Parameters: now, the limit."""


def prune_sql(state_count: int) -> str:
    """Delete finished tasks older than their state's age. Parameters: a state and the
    time it must have finished before, ``state_count`` times, then the limit."""
    condition = " OR ".join("(state = ? AND finished_at < ?)" for _ in range(state_count))
    return (
        f"DELETE FROM {TABLE} WHERE id IN (SELECT id FROM {TABLE} "
        f"WHERE finished_at IS NOT NULL AND ({condition}) LIMIT ?)"
    )


LEADER_TRY = (
    f"INSERT INTO {LEADERS} (name, holder, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET holder=excluded.holder, "
    f"expires_at=excluded.expires_at WHERE {LEADERS}.holder=excluded.holder "
    f"OR {LEADERS}.expires_at <= ?"
)
"""Parameters: lock name, holder, expiry, now. One row changed: the holder leads."""
LEADER_RESIGN = f"DELETE FROM {LEADERS} WHERE name=? AND holder=?"
"""Parameters: lock name, holder."""

# ------------------------------------------------------------------ inspection and operators

GET = f"SELECT {COLUMNS} FROM {TABLE} WHERE id = ?"
"""Parameters: task id."""


def list_sql(where: str, with_payload: bool) -> str:
    """Tasks matching ``where``, newest first. Parameters: ``where``'s, then the limit."""
    columns = COLUMNS if with_payload else COLUMNS_WITHOUT_PAYLOAD
    return f"SELECT {columns} FROM {TABLE} WHERE {where} ORDER BY id DESC LIMIT ?"


def count_sql(where: str) -> str:
    return f"SELECT count(*) FROM {TABLE} WHERE {where}"


STATS = f"SELECT queue, state, count(*) FROM {TABLE} GROUP BY queue, state"


def count_by_name_sql(state_count: int) -> str:
    """Parameters: the states."""
    return (f"SELECT name, count(*) FROM {TABLE} WHERE state IN "
            f"({','.join('?' * state_count)}) GROUP BY name")


RETRYABLE = "('failed','cancelled','retrying','scheduled')"


def retry_sql(where: str) -> str:
    """Queue again, from scratch, the tasks matching ``where`` that may be retried (a
    unique key held by an unfinished task is skipped). Parameters: now, ``where``'s."""
    return (
        f"UPDATE OR IGNORE {TABLE} SET state='queued', attempts=0, snoozes=0, run_at=?, "
        "finished_at=NULL, started_at=NULL, lease_token=NULL, lease_expires_at=NULL "
        f"WHERE state IN {RETRYABLE} AND {where}"
    )


EDIT = (
    f"UPDATE OR IGNORE {TABLE} SET payload=coalesce(?, payload), queue=coalesce(?, queue), "
    "priority=coalesce(?, priority), history=?, state='queued', attempts=0, snoozes=0, "
    "run_at=?, finished_at=NULL, started_at=NULL, lease_token=NULL, lease_expires_at=NULL "
    "WHERE id=? AND state IN ('failed','cancelled') AND history IS ?"
)
"""Parameters: the new payload, queue and priority (None: kept), the history, now, task
id, the expected history. ``OR IGNORE``: a unique key another task holds changes nothing."""
def unfinished_ids_sql(where: str) -> str:
    """The ids of the unfinished tasks matching ``where``. Parameters: ``where``'s."""
    return f"SELECT id FROM {TABLE} WHERE state NOT IN {SQL_FINAL} AND {where}"


def cancel_sql(where: str) -> str:
    """Cancel the unfinished tasks matching ``where``. Parameters: now, the reason,
    ``where``'s."""
    return (
        f"UPDATE {TABLE} SET state='cancelled', finished_at=?, last_error=?, {_CLEAR_LEASE} "
        f"WHERE state NOT IN {SQL_FINAL} AND {where}"
    )


def delete_sql(where: str) -> str:
    return f"DELETE FROM {TABLE} WHERE {where}"


__all__ = [
    "ANY_DUE", "EDIT", "EXPIRED_LEASES", "EXTEND_LEASE", "FILTERS", "FINISH_DEFER",
    "FINISH_DELETE", "FINISH_FAILED", "FINISH_RELEASE", "FINISH_RETRY", "FINISH_SUCCEEDED",
    "GET", "HAS_TABLE", "INSERT", "INSERT_UNIQUE", "LEADER_RESIGN", "LEADER_TRY", "PROGRESS",
    "PROMOTE", "RESCUE_FAIL", "RESCUE_REQUEUE", "RETRYABLE", "STATS", "UNFINISHED_WITH_KEY",
    "cancel_sql", "claim_parameters", "claim_sql", "count_by_name_sql", "count_sql",
    "delete_sql", "list_sql", "placeholders", "prune_sql",
    "retry_sql",
    "unfinished_ids_sql",
]
