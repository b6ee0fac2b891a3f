"""Flow control in the MySQL store: queue settings, and the reads and writes of a limited
claim (``backends.admission`` is the rule) in one transaction that first locks the queue
row named '' (made by the migration), so limited claims of every process serialize; the
claim's SELECT skips paused queues itself."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from taskbasket.backends.admission import Candidate, StartRecord, claim_under_limits
from taskbasket.backends.base import ClaimOrder, ClaimParams, QueueUpdateParams, StoredQueue
from taskbasket.backends.mysql.session import Session
from taskbasket.backends.mysql.settings import Settings
from taskbasket.backends.mysql.statements import NOW, marks
from taskbasket.backends.mysql.values import CLAIM_COLUMNS, hex_literal, id_bytes, id_str, micros


def update_queue_sql(queues: str, params: QueueUpdateParams) -> tuple[str, list[Any]]:
    """Insert the queue's row if it has none and set the given fields, in one statement."""
    fields = list(params.changes)
    columns = ", ".join(["name", *fields])
    sets = ", ".join(f"{field} = VALUES({field})" for field in fields) or "name = name"
    values = [int(v) if f == "paused" else v for f, v in params.changes.items()]
    return (f"INSERT INTO {queues} ({columns}) VALUES ({marks([0, *fields])}) "
            f"ON DUPLICATE KEY UPDATE {sets}", [params.name, *values])


def list_queues_sql(queues: str) -> str:
    return (f"SELECT name, paused, concurrency, rate_limit FROM {queues} WHERE name <> '' "
            "ORDER BY name")


def stored_queue(row: Sequence[Any]) -> StoredQueue:
    return StoredQueue(row[0], bool(row[1]), row[2], row[3])


class MysqlFlowReads:
    """The ``FlowReads`` of one limited claim on session ``cur``, in its transaction."""

    def __init__(self, cur: Session, settings: Settings, params: ClaimParams,
                 token: str) -> None:
        self.cur = cur
        self.t = settings.tasks_table
        self.q = settings.queues_table
        self.starts = settings.starts_table
        self.params = params
        self.token = token
        cur.execute(f"SELECT name FROM {self.q} WHERE name = '' FOR UPDATE")
        cur.execute("SELECT UNIX_TIMESTAMP(NOW(6))")
        self.now = float(cur.fetchall()[0][0])

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> Sequence[tuple[Any, ...]]:
        self.cur.execute(sql, list(args))
        return self.cur.fetchall()

    def running_rows(self) -> Iterable[tuple[str, str, str | None, int]]:
        rows = self._rows(
            f"SELECT queue, name, limit_key, COUNT(*) FROM {self.t} FORCE INDEX (leases) "
            f"WHERE state = 'running' AND lease_expires_at > {NOW} "
            "GROUP BY queue, name, limit_key")
        return [(queue, name, key or None, int(count)) for queue, name, key, count in rows]

    def start_rows(self) -> Iterable[tuple[str, int]]:
        self.cur.execute(f"DELETE FROM {self.starts} WHERE expires <= {NOW}")
        return [(grp, int(count)) for grp, count in
                self._rows(f"SELECT grp, COUNT(*) FROM {self.starts} GROUP BY grp")]

    def _where(self, excluded: Sequence[str], names: Sequence[str] | None,
               ) -> tuple[str, list[Any]]:
        where = f" AND queue NOT IN (SELECT name FROM {self.q} WHERE paused = 1)"
        args: list[Any] = []
        for column, values in (("name", names), ("queue", self.params.queues)):
            if values is not None:
                where += f" AND {column} IN ({marks(values)})"
                args.extend(values)
        if excluded:
            where += f" AND queue NOT IN ({marks(excluded)})"
            args.extend(excluded)
        return where, args

    def head(self, excluded_queues: Sequence[str], count: int) -> list[Candidate]:
        where, args = self._where(excluded_queues, self.params.names)
        order = ("id" if self.params.order is ClaimOrder.CREATED
                 else "priority DESC, run_at, id")
        columns = "id, name, queue, limit_key, priority, run_at"
        branches = [("queued", order), ("scheduled", "run_at"), ("retrying", "run_at")]
        selects = [f"(SELECT {columns} FROM {self.t} WHERE state = '{state}' "
                   f"AND run_at <= {NOW}{where} ORDER BY {by} LIMIT {int(count)})"
                   for state, by in branches]
        rows = self._rows(f"SELECT id, name, queue, limit_key FROM "
                          f"({' UNION ALL '.join(selects)}) c ORDER BY {order} "
                          f"LIMIT {int(count)}", args * 3)
        return [Candidate(id_str(r[0]), r[1], r[2], r[3] or None) for r in rows]

    def seek(self, name: str, after_key: str | None) -> Candidate | None:
        where, args = self._where((), [name])
        if after_key is not None:
            where += " AND limit_key > %s"
            args.append(after_key)
        rows = self._rows(
            f"SELECT id, name, queue, limit_key FROM {self.t} FORCE INDEX (keyed) "
            f"WHERE state = 'queued' AND run_at <= {NOW}{where} "
            "ORDER BY name, limit_key, priority DESC, run_at, id LIMIT 1", args)
        return None if not rows else Candidate(id_str(rows[0][0]), rows[0][1], rows[0][2],
                                               rows[0][3] or None)

    def take(self, chosen: Sequence[Candidate]) -> None:
        ids = ",".join(hex_literal(id_bytes(c.id) or b"") for c in chosen)
        added = 1 if self.params.count_attempt else 0
        self.cur.execute(
            f"UPDATE {self.t} SET state = 'running', attempts = attempts + {added}, "
            f"lease_token = %s, lease_expires_at = {NOW} + INTERVAL "
            f"{micros(self.params.lease_seconds)} MICROSECOND, started_at = {NOW}, "
            f"worker_id = %s WHERE id IN ({ids}) "
            "AND state IN ('queued','scheduled','retrying')",
            [self.token.encode(), self.params.worker_id[:255]])

    def record_starts(self, records: Sequence[StartRecord]) -> None:
        if records:
            values = ",".join(
                f"(%s, {NOW} + INTERVAL {micros(r.expires - self.now)} MICROSECOND)"
                for r in records)
            self.cur.execute(f"INSERT INTO {self.starts} (grp, expires) VALUES {values}",
                             [r.group for r in records])

    def claimed(self) -> Sequence[tuple[Any, ...]]:
        """The rows this claim took (read by its token), committing the transaction."""
        self.cur.execute(
            f"SELECT {CLAIM_COLUMNS}, limit_key FROM {self.t} WHERE lease_token = %s "
            "AND state = 'running'", [self.token.encode()], commit=True)
        return self.cur.fetchall()


class MySQLFlow:
    """The MySQL backend's queue settings and limited claim (mixed into ``MySQLBackend``)."""

    settings: Settings
    _read: Callable[..., list[tuple[Any, ...]]]
    _write: Callable[..., int]

    def queues_update(self, params: QueueUpdateParams) -> None:
        self._write(*update_queue_sql(self.settings.queues_table, params))

    def queues_list(self) -> list[StoredQueue]:
        rows = self._read(list_queues_sql(self.settings.queues_table))
        return [stored_queue(row) for row in rows]

    def _claim_limited(self, cur: Session, params: ClaimParams,
                       token: str) -> list[tuple[Any, ...]]:
        """The rows of a claim under ``params.limits``, in ``cur``'s transaction."""
        assert params.limits is not None
        reads = MysqlFlowReads(cur, self.settings, params, token)
        claim_under_limits(reads, params.limits, params.limit, reads.now, params.names)
        return list(reads.claimed())
