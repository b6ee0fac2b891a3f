"""Flow control in the PostgreSQL store: queue settings, and the reads and writes of a
limited claim (``backends.admission`` is the rule) in one transaction that holds the
schema's flow advisory lock, so limited claims of every process serialize; the claim
functions skip paused queues themselves."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from taskbasket.backends.admission import Candidate, StartRecord
from taskbasket.backends.base import ClaimOrder, ClaimParams, QueueUpdateParams, StoredQueue
from taskbasket.backends.postgres.connections import Connection

CLAIMED = ("t.id::text, t.name, t.queue, t.payload, t.priority, t.attempts, t.max_attempts, "
           "t.timeout, t.created_at, t.run_at, t.unique_key, t.limit_key")


def update_queue(conn: Connection, schema: str, params: QueueUpdateParams) -> None:
    """Insert the queue's row if it has none and set the given fields, in one statement."""
    fields = list(params.changes)
    columns = ", ".join(["name", *fields])
    values = ", ".join(["%s"] * (len(fields) + 1))
    sets = ", ".join(f"{field} = EXCLUDED.{field}" for field in fields) or "name = EXCLUDED.name"
    conn.execute(f"INSERT INTO {schema}.queues ({columns}) VALUES ({values}) "
                 f"ON CONFLICT (name) DO UPDATE SET {sets}",
                 [params.name, *params.changes.values()])


def list_queues(conn: Connection, schema: str) -> list[StoredQueue]:
    rows = conn.execute(f"SELECT name, paused, concurrency, rate_limit FROM {schema}.queues "
                        "ORDER BY name").fetchall()
    return [StoredQueue(r[0], bool(r[1]), r[2], r[3]) for r in rows]


class PostgresFlowReads:
    """The ``FlowReads`` of one limited claim on ``conn``, inside its transaction."""

    def __init__(self, conn: Connection, schema: str, params: ClaimParams, token: str) -> None:
        self.conn = conn
        self.s = schema
        self.params = params
        self.token = token
        self.claimed: list[tuple[Any, ...]] = []
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{schema}.flow"])
        row = conn.execute("SELECT extract(epoch FROM now())::float8").fetchone()
        assert row is not None
        self.now: float = row[0]

    def running_rows(self) -> Iterable[tuple[str, str, str | None, int]]:
        rows = self.conn.execute(
            f"SELECT queue, name, limit_key, count(*)::int FROM {self.s}.tasks "
            "WHERE state = 'running' AND lease_expires_at > now() "
            "GROUP BY queue, name, limit_key").fetchall()
        return [(queue, name, key or None, count) for queue, name, key, count in rows]

    def start_rows(self) -> Iterable[tuple[str, int]]:
        self.conn.execute(f"DELETE FROM {self.s}.starts WHERE expires <= now()")
        rows = self.conn.execute(f"SELECT grp, count(*)::int FROM {self.s}.starts "
                                 "GROUP BY grp").fetchall()
        return [(grp, count) for grp, count in rows]

    def _where(self, excluded: Sequence[str], names: Sequence[str] | None,
               ) -> tuple[str, list[Any]]:
        where = (f" AND NOT EXISTS (SELECT 1 FROM {self.s}.queues p WHERE p.name = r.queue "
                 "AND p.paused) AND (%s::text[] IS NULL OR r.name = ANY(%s::text[])) "
                 "AND (%s::text[] IS NULL OR r.queue = ANY(%s::text[])) "
                 "AND NOT (r.queue = ANY(%s::text[]))")
        names_list = None if names is None else list(names)
        queues = None if self.params.queues is None else list(self.params.queues)
        return where, [names_list, names_list, queues, queues, list(excluded)]

    def head(self, excluded_queues: Sequence[str], count: int) -> list[Candidate]:
        where, values = self._where(excluded_queues, self.params.names)
        order = ("id" if self.params.order is ClaimOrder.CREATED
                 else "priority DESC, run_at, id")
        columns = "r.id::text AS id, r.name, r.queue, r.limit_key, r.priority, r.run_at"
        rows = self.conn.execute(
            f"SELECT id, name, queue, limit_key FROM ("
            f"(SELECT {columns} FROM {self.s}.tasks r WHERE r.state = 'queued' "
            f"AND r.run_at <= now(){where} ORDER BY r.{order.replace(', ', ', r.')} "
            f"LIMIT %s) UNION ALL "
            f"(SELECT {columns} FROM {self.s}.tasks r WHERE r.state IN "
            f"('scheduled','retrying') AND r.run_at <= now(){where} ORDER BY r.run_at "
            f"LIMIT %s)) c ORDER BY {order} LIMIT %s",
            [*values, count, *values, count, count]).fetchall()
        return [Candidate(r[0], r[1], r[2], r[3] or None) for r in rows]

    def seek(self, name: str, after_key: str | None) -> Candidate | None:
        where, values = self._where((), [name])
        if after_key is not None:
            where += " AND r.limit_key > %s"
            values.append(after_key)
        row = self.conn.execute(
            f"SELECT r.id::text, r.name, r.queue, r.limit_key FROM {self.s}.tasks r "
            f"WHERE r.state = 'queued' AND r.run_at <= now(){where} "
            "ORDER BY r.name, r.limit_key, r.priority DESC, r.run_at, r.id LIMIT 1",
            values).fetchone()
        return None if row is None else Candidate(row[0], row[1], row[2], row[3] or None)

    def take(self, chosen: Sequence[Candidate]) -> None:
        self.claimed = self.conn.execute(
            f"UPDATE {self.s}.tasks t SET state = 'running', attempts = t.attempts + %s, "
            "lease_token = %s, lease_expires_at = now() + %s * interval '1 second', "
            "started_at = now(), worker_id = %s "
            "WHERE t.id = ANY(%s::uuid[]) AND t.state IN ('queued','scheduled','retrying') "
            f"RETURNING {CLAIMED}",
            [1 if self.params.count_attempt else 0, self.token,
             float(self.params.lease_seconds), self.params.worker_id,
             [candidate.id for candidate in chosen]]).fetchall()

    def record_starts(self, records: Sequence[StartRecord]) -> None:
        if records:
            self.conn.execute(
                f"INSERT INTO {self.s}.starts (grp, expires) "
                "SELECT g, to_timestamp(e) FROM unnest(%s::text[], %s::float8[]) AS u(g, e)",
                [[r.group for r in records], [r.expires for r in records]])
