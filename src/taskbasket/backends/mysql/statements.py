"""The texts of the MySQL store's statements that take more than a line: task rows to
insert, the claim, the outcome and rescue updates over derived tables of per-row values,
and the filter dialect. Ids, tokens and times are written in as literals (``values``),
names and queues passed as parameters."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from taskbasket.backends.base import (
    ClaimOrder,
    ClaimParams,
    Lease,
    LeaseRescue,
    NewTask,
    OutcomeKind,
    RescueKind,
)
from taskbasket.backends.mysql.values import (
    CLAIM_COLUMNS,
    datetime_literal,
    hex_literal,
    id_bytes,
    micros,
    quote,
)
from taskbasket.backends.sql_filters import FilterDialect, Fragment, sql_states
from taskbasket.errors import ConfigurationError
from taskbasket.task import ALL_STATES, FINAL_STATES

R = TypeVar("R")

NOW = "UTC_TIMESTAMP(6)"
"""The server's clock, in UTC: it drives leases and schedules."""
SQL_LIVE = sql_states(set(ALL_STATES) - FINAL_STATES)
"""('queued','scheduled','running','retrying'): the states of a task that is not final."""
KINDS = {
    OutcomeKind.SUCCEEDED: "'s'", OutcomeKind.FAILED: "'f'",
    OutcomeKind.RETRY: "'r'", OutcomeKind.RELEASED: "'q'", OutcomeKind.DEFERRED: "'d'",
}
"""Each outcome's kind as the one-letter literal the outcome update reads."""


def marks(values: Sequence[object]) -> str:
    """One ``%s`` placeholder per value."""
    return ",".join(["%s"] * len(values))


def derived(rows: Sequence[Sequence[str]], names: Sequence[str]) -> str:
    """A derived table of SQL values, one SELECT per row; the first names the columns."""
    first = ", ".join(f"{value} AS {name}" for value, name in zip(rows[0], names, strict=True))
    return " UNION ALL ".join([f"SELECT {first}", *(f"SELECT {', '.join(r)}" for r in rows[1:])])


def chunks(rows: Iterable[R], what: str, text: Callable[[R], str], limit: int) -> list[list[R]]:
    """Group rows so that no statement outgrows ``limit`` bytes (the server's packet
    limit); a single row over it is refused, saying what to change."""
    grouped: list[list[R]] = [[]]
    size = 0
    for row in rows:
        sql = text(row)
        length = len(sql) if sql.isascii() else len(sql.encode("utf-8"))
        if length > limit:
            raise ConfigurationError(
                f"a {what} takes {length} bytes as SQL, over what the MySQL server "
                f"accepts in one statement (max_allowed_packet allows {limit}); raise "
                "max_allowed_packet on the server or keep payloads smaller"
            )
        if size + length > limit and grouped[-1]:
            grouped.append([])
            size = 0
        grouped[-1].append(row)
        size += length + 32
    return [chunk for chunk in grouped if chunk]


def task_values(task: NewTask, esc: Callable[[str], str]) -> str:
    """The VALUES tuple of one new task; ``esc`` quotes text for the connection used."""
    raw_id = id_bytes(task.id)
    if raw_id is None:
        raise ConfigurationError(f"task id {task.id!r} is not a UUID")
    if task.run_at is not None:
        run_at = datetime_literal(task.run_at)
        state = f"IF({run_at} <= {NOW}, 'queued', 'scheduled')"
    elif task.delay > 0:
        run_at = f"{NOW} + INTERVAL {micros(task.delay)} MICROSECOND"
        state = "'scheduled'"
    else:
        run_at = NOW
        state = "'queued'"
    unique = "NULL" if task.unique_key is None else hex_literal(task.unique_key.encode("utf-8"))
    return (
        f"({hex_literal(raw_id)},{esc(task.name)},{esc(task.queue)},{state},"
        f"{esc(task.payload)},{int(task.priority)},{int(task.max_attempts)},"
        f"{float(task.timeout)!r},{unique},{NOW},{run_at},{esc(task.limit_key or '')})"
    )


def insert_statements(
    table: str, tasks: Sequence[NewTask], esc: Callable[[str], str], limit: int
) -> list[str]:
    """INSERTs of ``tasks``, as few as ``limit`` allows. Each is ON DUPLICATE KEY UPDATE
    id = id, so running it again after a lost reply cannot store a task twice."""
    return [
        f"INSERT INTO {table} (id, name, queue, state, payload, priority, "
        f"max_attempts, timeout, unique_key, created_at, run_at, limit_key) "
        f"VALUES {','.join(rows)} "
        "ON DUPLICATE KEY UPDATE id = id"
        for rows in chunks((task_values(t, esc) for t in tasks), "task", str, limit)
    ]


def claim_select(table: str, params: ClaimParams, queues_table: str,
                 ) -> tuple[str, list[str]]:
    """The SELECT that locks the tasks a claim takes (``CLAIM_COLUMNS``), and its
    parameters. It reads three bounded ranges, each up to the limit and skipping the rows
    other claims hold: queued tasks through the index of the claim order, and due
    scheduled and due retrying tasks through ``due`` (state, run_at) by run_at; the
    union's first ``limit`` in claim order are taken. So a claim never walks past tasks
    that are not due yet. Among more due scheduled or retrying tasks than the limit, the
    earliest run_at come first (the stager queues them within its interval, after which
    the order is exact); rows a branch locked but the merge left are free at commit. The
    branches and their merge carry the sort columns only, so the merge's temporary table
    has no text column and stays in memory; then the claimed rows are read by primary key
    (STRAIGHT_JOIN: never a scan of the table looking each row up in the merge). Tasks of
    a paused queue are never taken."""
    where = f" AND queue NOT IN (SELECT name FROM {queues_table} WHERE paused = 1)"
    args: list[str] = []
    if params.names is not None:
        where += f" AND name IN ({marks(params.names)})"
        args.extend(params.names)
    if params.queues is not None:
        where += f" AND queue IN ({marks(params.queues)})"
        args.extend(params.queues)
    limit = int(params.limit)
    queued_index, order_by = (
        ("queued_created", "id") if params.order is ClaimOrder.CREATED
        else ("queued", "priority DESC, run_at, id")
    )
    branches = [
        (queued_index, "queued", order_by),
        ("due", "scheduled", "run_at"),
        ("due", "retrying", "run_at"),
    ]
    selects = [
        f"(SELECT id, priority, run_at FROM {table} FORCE INDEX ({index}) "
        f"WHERE state = '{state}' AND run_at <= {NOW}{where} ORDER BY {order} "
        f"LIMIT {limit} FOR UPDATE SKIP LOCKED)"
        for index, state, order in branches
    ]
    columns = ", ".join(f"t.{column.strip()}" for column in CLAIM_COLUMNS.split(","))
    merged = f"{' UNION ALL '.join(selects)} ORDER BY {order_by} LIMIT {limit}"
    in_order = ", ".join(f"c.{key}" for key in order_by.split(", "))
    return (
        f"SELECT {columns} FROM ({merged}) AS c STRAIGHT_JOIN {table} AS t "
        "FORCE INDEX (PRIMARY) ON t.id = c.id "
        f"ORDER BY {in_order}"
    ), args * 3


def claim_update(table: str, ids: Sequence[bytes], added: int, lease_seconds: float) -> str:
    """The UPDATE that leases the selected rows; it takes the token and the worker id."""
    return (
        f"UPDATE {table} SET state = 'running', attempts = attempts + {added}, "
        f"lease_token = %s, lease_expires_at = {NOW} + INTERVAL {micros(lease_seconds)} "
        f"MICROSECOND, started_at = {NOW}, worker_id = %s "
        f"WHERE id IN ({','.join(hex_literal(raw) for raw in ids)})"
    )


def extend_update(table: str, pairs: Sequence[tuple[Lease, bytes]], lease_seconds: float) -> str:
    """The UPDATE that extends the leases of ``pairs`` (a lease and its stored id) whose
    rows still carry their token."""
    rows = [(hex_literal(raw), hex_literal(lease.token.encode("utf-8"))) for lease, raw in pairs]
    return (
        f"UPDATE {table} AS t JOIN ({derived(rows, ('id', 'token'))}) AS v ON t.id = v.id "
        f"SET t.lease_expires_at = {NOW} + INTERVAL {micros(lease_seconds)} "
        "MICROSECOND WHERE t.state = 'running' AND t.lease_token = v.token"
    )


def expired_select(table: str, ids: Sequence[bytes]) -> str:
    """The SELECT that locks the rows among ``ids`` whose lease expired, skipping rows
    another transaction holds."""
    return (
        f"SELECT id, lease_token FROM {table} WHERE id IN "
        f"({','.join(hex_literal(raw) for raw in ids)}) AND "
        f"state = 'running' AND lease_expires_at < {NOW} FOR UPDATE SKIP LOCKED"
    )


def successes_update(table: str, fences: Sequence[str], stamped: str) -> str:
    """Successes need no per-row values: one plain UPDATE fenced per claim's token."""
    return (
        f"UPDATE {table} FORCE INDEX (PRIMARY) SET state = 'succeeded', "
        f"finished_at = {NOW}, lease_expires_at = NULL, {stamped} "
        f"WHERE state = 'running' AND ({' OR '.join(fences)})"
    )


OUTCOME_COLUMNS = ("id", "token", "kind", "err", "retry_at", "delay_us", "res", "hist",
                   "snoozed")


def outcomes_update(table: str, rows: Sequence[Sequence[str]], stamped: str) -> str:
    """Failures, retries, releases and successes with a result: an UPDATE joined to a
    derived table of ``OUTCOME_COLUMNS`` rows, fenced by each row's lease token."""
    return (
        f"UPDATE {table} AS t JOIN ("
        + derived(rows, OUTCOME_COLUMNS)
        + ") AS v ON t.id = v.id SET "
        "t.state = CASE v.kind WHEN 'f' THEN 'failed' WHEN 'r' THEN 'retrying' "
        "WHEN 's' THEN 'succeeded' WHEN 'd' THEN 'scheduled' ELSE 'queued' END, "
        f"t.finished_at = IF(v.kind IN ('f','s'), {NOW}, NULL), "
        "t.result = IF(v.kind = 's', v.res, t.result), "
        "t.last_error = IF(v.kind IN ('f','r'), v.err, t.last_error), "
        f"t.run_at = IF(v.kind IN ('r','d'), COALESCE(v.retry_at, {NOW} + INTERVAL "
        # (a zero date that a lax session wrote is refused by ours: write now instead)
        f"v.delay_us MICROSECOND), IF(t.run_at >= '1000-01-01', t.run_at, {NOW})), "
        "t.attempts = IF(v.kind IN ('q','d'), GREATEST(t.attempts - 1, 0), t.attempts), "
        "t.snoozes = t.snoozes + v.snoozed, t.history = COALESCE(v.hist, t.history), "
        "t.started_at = IF(v.kind = 'q', NULL, t.started_at), "
        "t.worker_id = IF(v.kind = 'q', NULL, t.worker_id), "
        f"t.lease_expires_at = NULL, {stamped} "
        "WHERE t.state = 'running' AND t.lease_token = v.token"
    )


def retry_update(table: str) -> str:
    """Queue again, from scratch, retryable tasks (the caller adds the WHERE); IGNORE
    skips a row whose unique key another live task holds by now."""
    return (
        f"UPDATE IGNORE {table} SET state = 'queued', attempts = 0, snoozes = 0, "
        f"run_at = {NOW}, finished_at = NULL, started_at = NULL, lease_token = NULL, "
        "lease_expires_at = NULL"
    )


def edit_update(table: str, raw_id: bytes) -> str:
    """An edit and retry of one task: fenced by its state and the history read (``<=>``
    matches NULL too); IGNORE leaves it when another live task holds its unique key.
    Parameters: the payload, queue and priority (None: kept), the history, the expected
    history."""
    return (
        f"UPDATE IGNORE {table} SET payload = COALESCE(%s, payload), "
        "queue = COALESCE(%s, queue), priority = COALESCE(%s, priority), history = %s, "
        f"state = 'queued', attempts = 0, snoozes = 0, run_at = {NOW}, finished_at = NULL, "
        "started_at = NULL, lease_token = NULL, lease_expires_at = NULL "
        f"WHERE id = {hex_literal(raw_id)} AND state IN ('failed','cancelled') "
        "AND history <=> %s"
    )


def rescue_update(
    table: str, chosen: Sequence[tuple[Lease, bytes]], rescues: Mapping[str, LeaseRescue]
) -> str:
    """Expired leases failed or requeued, each with its new history (NULL: kept): an
    UPDATE joined to a derived table of one row per lease of ``chosen`` (a lease and its
    stored id), fenced by the lease's token."""
    rows = []
    for lease, raw in chosen:
        rescue = rescues[lease.task_id]
        delay = micros(rescue.delay) if rescue.kind is RescueKind.REQUEUE else 0
        kind = "'f'" if rescue.kind is RescueKind.FAIL else "'q'"
        history = "NULL" if rescue.history is None else quote(rescue.history)
        rows.append((hex_literal(raw), hex_literal(lease.token.encode("utf-8")), kind,
                     quote(rescue.error), str(delay), history))
    return (
        f"UPDATE {table} AS t JOIN ("
        + derived(rows, ("id", "token", "kind", "err", "delay_us", "hist"))
        + ") AS v ON t.id = v.id SET "
        "t.state = IF(v.kind = 'f', 'failed', IF(v.delay_us > 0, 'retrying', "
        "'queued')), "
        f"t.finished_at = IF(v.kind = 'f', {NOW}, t.finished_at), "
        f"t.run_at = IF(v.kind = 'f', t.run_at, {NOW} + INTERVAL v.delay_us "
        "MICROSECOND), "
        "t.last_error = v.err, t.history = COALESCE(v.hist, t.history), "
        "t.lease_token = NULL, t.lease_expires_at = NULL "
        "WHERE t.state = 'running' AND t.lease_token = v.token"
    )


def _filter_ids(ids: Sequence[str]) -> Fragment | None:
    raws = [raw for raw in (id_bytes(i) for i in ids) if raw is not None]
    if not raws:
        return None
    return f"id IN ({','.join(hex_literal(raw) for raw in raws)})", []


def _filter_values(column: str, values: Sequence[str]) -> Fragment:
    return f"{column} IN ({marks(values)})", list(values)


def _finished_before(seconds: float) -> Fragment:
    return f"finished_at < {NOW} - INTERVAL {micros(seconds)} MICROSECOND", []


def _workflow(workflow_id: str) -> Fragment | None:
    raw = id_bytes(workflow_id)
    if raw is None:
        return None
    return f"(workflow_id = {hex_literal(raw)} OR id = {hex_literal(raw)})", []


FILTER_DIALECT = FilterDialect(
    true="TRUE", false="FALSE", ids=_filter_ids, values=_filter_values,
    finished_before=_finished_before, workflow=_workflow,
)
"""MySQL's fragments for ``sql_filters.filter_where``."""


__all__ = ["FILTER_DIALECT", "KINDS", "NOW", "OUTCOME_COLUMNS", "SQL_LIVE", "chunks",
           "claim_select", "claim_update", "derived", "edit_update", "expired_select",
           "extend_update", "insert_statements", "marks", "outcomes_update", "rescue_update",
           "retry_update",
           "successes_update", "task_values"]
