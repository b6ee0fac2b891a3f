"""The text of every statement the PostgreSQL store runs, built once per schema: inserts,
the claim (the statement itself is the schema's ``claim()`` function, see the migrations),
lease extensions, outcomes, maintenance (promote, rescue, prune), leadership and the
operators' and inspector's statements over a filter. Each hot statement is one round trip.
"""

from __future__ import annotations

from taskbasket.backends.base import columns_without_payload
from taskbasket.backends.sql_filters import SQL_FINAL, sql_states
from taskbasket.task import RETRYABLE_STATES

COLUMNS = (
    "id::text, name, queue, state, payload, priority, attempts, max_attempts, timeout, "
    "unique_key, last_error, created_at, run_at, started_at, finished_at, lease_expires_at, "
    "worker_id, result, progress, limit_key, snoozes, history, workflow_id::text"
)
"""A stored task's columns, in the order ``rows.read_row`` reads them."""
COLUMNS_WITHOUT_PAYLOAD = columns_without_payload(COLUMNS)
_RETRYABLE = sql_states(RETRYABLE_STATES)


class Statements:
    """The statements of the store whose tasks are in ``table`` of ``schema`` (both
    quoted); ``%s`` and ``%b`` (binary) are psycopg's placeholders."""

    def __init__(self, table: str, schema: str) -> None:
        self.table = table
        self.schema = schema
        t = table
        unnest_new = (
            # binary parameters: no escaping of 50,000 JSON payloads into array literals
            "unnest(%b::uuid[], %b::text[], %b::text[], %b::text[], %b::int[], %b::int[], "
            "%b::float8[], %b::text[], %b::float8[], %b::timestamptz[], %b::text[])"
        )
        new_columns = (
            "id, name, queue, payload, priority, max_attempts, timeout, unique_key, delay, "
            "run_at, limit_key"
        )
        insert_head = (
            f"INSERT INTO {t} (id, name, queue, state, payload, priority, max_attempts, "
            "timeout, unique_key, created_at, run_at, limit_key) "
            "SELECT id, name, queue, CASE WHEN due <= now() THEN 'queued' ELSE 'scheduled' "
            "END, payload, priority, max_attempts, timeout, unique_key, now(), due, "
            "limit_key "
        )
        due = "coalesce(u.run_at, now() + u.delay * interval '1 second') AS due"
        notify_inserted = (
            "SELECT count(pg_notify(%s, q)) FROM "
            "(SELECT DISTINCT queue AS q FROM ins WHERE state = 'queued') d"
        )
        self.insert_plain = (
            f"WITH ins AS ({insert_head}"
            f"FROM (SELECT u.*, {due} FROM {unnest_new} AS u({new_columns})) s "
            "RETURNING queue, state) "
            f"{notify_inserted}"
        )
        self.copy = (
            f"COPY {t} (id, name, queue, state, payload, priority, max_attempts, timeout, "
            "created_at, run_at, limit_key) FROM STDIN"
        )
        # one task: plain parameters, cheaper to send than ten one-element arrays
        one_new = (
            "(SELECT %s::uuid, %s::text, %s::text, %s::text, %s::int, %s::int, %s::float8, "
            "%s::text, %s::float8, %s::timestamptz, %s::text)"
        )
        self.insert_one = (
            f"WITH ins AS ({insert_head}"
            f"FROM (SELECT u.*, {due} FROM {one_new} AS u({new_columns})) s "
            "RETURNING queue, state) "
            f"{notify_inserted}"
        )
        self.insert_unique = (
            f"WITH ins AS ({insert_head}"
            f"FROM (SELECT u.*, {due} FROM {unnest_new} WITH ORDINALITY "
            f"AS u({new_columns}, ord)) s ORDER BY ord "
            f"ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state NOT IN {SQL_FINAL} "
            "DO NOTHING RETURNING id, unique_key, queue, state), "
            f"notified AS ({notify_inserted}) "
            "SELECT id::text, unique_key, true, (SELECT count FROM notified) FROM ins "
            "UNION ALL "
            f"SELECT id::text, unique_key, false, NULL FROM {t} "
            f"WHERE unique_key = ANY(%b::text[]) AND state NOT IN {SQL_FINAL}"
        )
        # one round trip; the statement itself is in the migration (see there why)
        self.claim = (
            "SELECT id::text, name, queue, payload, priority, attempts, max_attempts, timeout, "
            f"created_at, run_at, unique_key, limit_key, snoozes, history FROM {schema}.claim("
            "%s, %s::float8, %s, %s::text[], %s::text[], %s::int, %s::int)"
        )
        self.claim_created = self.claim.replace(".claim(", ".claim_created(")
        self.extend = (
            f"UPDATE {t} t SET lease_expires_at = now() + %s::float8 * interval '1 second' "
            "FROM unnest(%b::uuid[], %b::text[]) AS l(id, token) "
            "WHERE t.id = l.id AND t.lease_token = l.token AND t.state = 'running' "
            "RETURNING t.id::text"
        )
        finish_update = (
            f"UPDATE {t} t SET "
            "state = CASE o.kind WHEN 'succeeded' THEN 'succeeded' WHEN 'failed' THEN 'failed' "
            "WHEN 'retry' THEN 'retrying' WHEN 'deferred' THEN 'scheduled' ELSE 'queued' END, "
            "finished_at = CASE WHEN o.kind IN ('succeeded', 'failed') THEN now() "
            "ELSE t.finished_at END, "
            "last_error = CASE WHEN o.kind IN ('failed', 'retry') THEN o.error "
            "ELSE t.last_error END, "
            "run_at = CASE WHEN o.kind IN ('retry', 'deferred') THEN coalesce(o.retry_at, "
            "now() + o.retry_delay * interval '1 second') ELSE t.run_at END, "
            "attempts = CASE WHEN o.kind IN ('released', 'deferred') "
            "THEN greatest(t.attempts - 1, 0) ELSE t.attempts END, "
            "snoozes = t.snoozes + o.snoozes_added, "
            "history = coalesce(o.history, t.history), "
            "started_at = CASE WHEN o.kind = 'released' THEN NULL ELSE t.started_at END, "
            "worker_id = CASE WHEN o.kind = 'released' THEN NULL ELSE t.worker_id END, "
            "result = CASE WHEN o.kind = 'succeeded' THEN o.result ELSE t.result END, "
            "lease_token = NULL, lease_expires_at = NULL "
            "FROM unnest(%b::int[], %b::uuid[], %b::text[], %b::text[], %b::text[], "
            "%b::float8[], %b::timestamptz[], %b::text[], %b::text[], %b::int[]) "
            "AS o(ord, id, token, kind, error, retry_delay, retry_at, result, history, "
            "snoozes_added) "
            "WHERE t.id = o.id AND t.lease_token = o.token AND t.state = 'running' "
        )
        # those waiting for results hear one notification per batch that ended tasks
        done_notify = ("(SELECT count(pg_notify(%s, '')) FROM (SELECT 1 FROM done "
                       "WHERE state IN ('succeeded', 'failed') LIMIT 1) f)")
        self.finish = (
            f"WITH done AS ({finish_update} RETURNING o.ord, t.queue, t.state) "
            f"SELECT ord, {done_notify} FROM done"
        )
        self.progress = (
            f"UPDATE {t} SET progress = %s WHERE id = %s::uuid AND lease_token = %s "
            "AND state = 'running'"
        )
        # a success of a delete_on_success task: the row goes, fenced like an update
        self.finish_delete = (
            f"DELETE FROM {t} t USING unnest(%b::int[], %b::uuid[], %b::text[]) "
            "AS o(ord, id, token) "
            "WHERE t.id = o.id AND t.lease_token = o.token AND t.state = 'running' "
            "RETURNING o.ord"
        )
        self.finish_notify = (
            f"WITH done AS ({finish_update} RETURNING o.ord, t.queue, t.state) "
            f"SELECT ord, {done_notify}, (SELECT count(pg_notify(%s, q)) FROM "
            "(SELECT DISTINCT queue AS q FROM done WHERE state = 'queued') d) FROM done"
        )
        # maintenance: each one round trip, walking a partial index, so a run that finds
        # nothing to do costs one index probe
        self.promote = (
            f"WITH promoted AS (UPDATE {t} SET state = 'queued' WHERE id IN "
            f"(SELECT id FROM {t} WHERE state IN ('scheduled','retrying') AND run_at <= now() "
            "ORDER BY run_at LIMIT %s FOR UPDATE SKIP LOCKED) "
            "AND state IN ('scheduled','retrying') RETURNING queue) "
            "SELECT (SELECT count(*) FROM promoted)::int, (SELECT count(pg_notify(%s, q)) "
            "FROM (SELECT DISTINCT queue AS q FROM promoted) d)"
        )
        self.expired = (
            "SELECT id::text, lease_token, name, queue, attempts, max_attempts, worker_id, "
            f"started_at, history FROM {t} "
            "WHERE state = 'running' AND lease_expires_at < now() "
            "ORDER BY lease_expires_at LIMIT %s"
        )
        self.rescue = (
            f"WITH r AS (UPDATE {t} t SET "
            "state = CASE WHEN u.kind = 'fail' THEN 'failed' WHEN u.delay > 0 THEN 'retrying' "
            "ELSE 'queued' END, "
            "finished_at = CASE WHEN u.kind = 'fail' THEN now() ELSE t.finished_at END, "
            "run_at = CASE WHEN u.kind = 'fail' THEN t.run_at "
            "ELSE now() + greatest(u.delay, 0) * interval '1 second' END, "
            "last_error = u.error, history = coalesce(u.history, t.history), "
            "lease_token = NULL, lease_expires_at = NULL "
            "FROM unnest(%b::int[], %b::uuid[], %b::text[], %b::text[], %b::text[], "
            "%b::float8[], %b::text[]) AS u(ord, id, token, kind, error, delay, history) "
            "WHERE t.id = u.id AND t.lease_token = u.token AND t.state = 'running' "
            "AND t.lease_expires_at < now() RETURNING u.ord, t.state, t.queue) "
            "SELECT ord, (SELECT count(pg_notify(%s, q)) FROM "
            "(SELECT DISTINCT queue AS q FROM r WHERE state = 'queued') d) FROM r"
        )
        self.leader_try = (
            f"INSERT INTO {schema}.leaders AS l (name, holder, expires_at) "
            "VALUES (%s, %s, now() + %s::float8 * interval '1 second') "
            "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, "
            "expires_at = EXCLUDED.expires_at "
            "WHERE l.holder = EXCLUDED.holder OR l.expires_at <= now() RETURNING 1"
        )
        self.leader_resign = (
            f"DELETE FROM {schema}.leaders WHERE name = %s AND holder = %s"
        )
        self.notify_queues = "SELECT count(pg_notify(%s, q)) FROM unnest(%s::text[]) AS q"
        self.get = f"SELECT {COLUMNS} FROM {t} WHERE id = %s::uuid"
        # an edit and retry: one task, fenced by its state and the history read; a unique
        # key another unfinished task holds leaves it as it is
        self.edit = (
            f"WITH changed AS (UPDATE {t} t SET payload = coalesce(%s, t.payload), "
            "queue = coalesce(%s, t.queue), priority = coalesce(%s::int, t.priority), "
            "history = %s, state = 'queued', attempts = 0, snoozes = 0, run_at = now(), "
            "finished_at = NULL, started_at = NULL, lease_token = NULL, "
            "lease_expires_at = NULL "
            "WHERE t.id = %s::uuid AND t.state IN ('failed', 'cancelled') "
            "AND t.history IS NOT DISTINCT FROM %s "
            f"AND (t.unique_key IS NULL OR NOT EXISTS (SELECT 1 FROM {t} o "
            f"WHERE o.unique_key = t.unique_key AND o.state NOT IN {SQL_FINAL} "
            "AND o.id <> t.id)) RETURNING t.queue) "
            "SELECT count(*), (SELECT count(pg_notify(%s, q)) FROM "
            "(SELECT DISTINCT queue AS q FROM changed) d) FROM changed"
        )
        self.stats = f"SELECT queue, state, count(*) FROM {t} GROUP BY 1, 2"
        self.count_by_name = (
            f"SELECT name, count(*) FROM {t} WHERE state = ANY(%s) GROUP BY 1"
        )

    # statements over a filter's WHERE clause (see filters.where)

    def page(self, where: str, with_payload: bool) -> str:
        columns = COLUMNS if with_payload else COLUMNS_WITHOUT_PAYLOAD
        return f"SELECT {columns} FROM {self.table} WHERE {where} ORDER BY id DESC LIMIT %s"

    def count(self, where: str) -> str:
        return f"SELECT count(*) FROM {self.table} WHERE {where}"

    def retry(self, where: str) -> str:
        """Back to queued, notifying each queue; among candidates sharing a unique key only
        one may become pending, and none where another pending task holds the key; one
        already pending is preferred."""
        t = self.table
        return (
            f"WITH cand AS (SELECT id, unique_key, state FROM {t} "
            f"WHERE state IN {_RETRYABLE} AND {where}), "
            "pick AS ("
            "SELECT id FROM cand WHERE unique_key IS NULL "
            "UNION ALL "
            "(SELECT DISTINCT ON (c.unique_key) c.id FROM cand c "
            "WHERE c.unique_key IS NOT NULL AND NOT EXISTS ("
            f"SELECT 1 FROM {t} o WHERE o.unique_key = c.unique_key "
            f"AND o.state NOT IN {SQL_FINAL} AND o.id NOT IN (SELECT id FROM cand)) "
            "ORDER BY c.unique_key, (c.state IN ('retrying','scheduled')) DESC, c.id)), "
            f"changed AS (UPDATE {t} SET state = 'queued', attempts = 0, snoozes = 0, "
            "run_at = now(), "
            "finished_at = NULL, started_at = NULL, lease_token = NULL, "
            "lease_expires_at = NULL "
            f"WHERE id IN (SELECT id FROM pick) AND state IN {_RETRYABLE} RETURNING queue) "
            "SELECT count(*), (SELECT count(pg_notify(%s, q)) FROM "
            "(SELECT DISTINCT queue AS q FROM changed) d) FROM changed"
        )

    def cancel(self, where: str) -> str:
        return (
            f"UPDATE {self.table} SET state = 'cancelled', finished_at = now(), "
            "last_error = %s, lease_token = NULL, lease_expires_at = NULL "
            f"WHERE state NOT IN {SQL_FINAL} AND {where}"
        )

    def delete(self, where: str) -> str:
        return f"DELETE FROM {self.table} WHERE {where}"

    def prune(self, states: int) -> str:
        """Delete up to a limit of final tasks older than an age per state: takes
        ``(state, seconds)`` for each of ``states``, the limit, then the pairs again."""
        t = self.table
        condition = " OR ".join(
            "(state = %s AND finished_at < now() - %s::float8 * interval '1 second')"
            for _ in range(states))
        return (
            f"DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE finished_at IS NOT NULL "
            f"AND ({condition}) LIMIT %s) AND ({condition})"
        )


__all__ = ["COLUMNS", "COLUMNS_WITHOUT_PAYLOAD", "Statements"]
