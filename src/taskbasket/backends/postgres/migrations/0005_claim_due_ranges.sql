-- 5: a claim reads two bounded ranges and merges them, so it never walks past tasks that
-- are not due yet: queued tasks through tasks_queued (claim order) or
-- tasks_queued_created (id), and due scheduled or retrying ones through tasks_due (by
-- run_at), each up to the limit and locked with SKIP LOCKED; the union's first p_limit
-- in claim order are claimed. Among more due scheduled or retrying tasks than the limit,
-- the earliest run_at come first (the stager queues them within its interval, after
-- which the order is exact). The only sort is of the union's at most 2 * p_limit rows;
-- with enable_sort off it is costed as disabled, which would make every claim pay for a
-- JIT compilation: jit is off. Rows a branch locked but the merge left are free again
-- when the claim ends. The ready indexes over every pending task are used by nothing
-- else and go.
CREATE INDEX tasks_queued ON {s}.tasks (priority DESC, run_at, id) WHERE state = 'queued';
CREATE INDEX tasks_queued_created ON {s}.tasks (id) WHERE state = 'queued';
CREATE OR REPLACE FUNCTION {s}.claim(p_token text, p_lease_seconds double precision,
                                       p_worker text, p_names text[], p_queues text[],
                                       p_limit integer, p_count integer)
RETURNS TABLE (id uuid, name text, queue text, payload text, priority integer,
               attempts integer, max_attempts integer, timeout double precision,
               created_at timestamptz, run_at timestamptz, unique_key text)
LANGUAGE plpgsql VOLATILE ROWS 10
SET enable_sort = off SET enable_seqscan = off SET jit = off AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH queued AS (
        SELECT r.id, r.priority, r.run_at FROM {s}.tasks r
        WHERE r.state = 'queued' AND r.run_at <= now()
          AND (p_names IS NULL OR r.name = ANY(p_names))
          AND (p_queues IS NULL OR r.queue = ANY(p_queues))
        ORDER BY r.priority DESC, r.run_at, r.id
        LIMIT p_limit FOR UPDATE OF r SKIP LOCKED
    ), due AS (
        SELECT r.id, r.priority, r.run_at FROM {s}.tasks r
        WHERE r.state IN ('scheduled','retrying') AND r.run_at <= now()
          AND (p_names IS NULL OR r.name = ANY(p_names))
          AND (p_queues IS NULL OR r.queue = ANY(p_queues))
        ORDER BY r.run_at
        LIMIT p_limit FOR UPDATE OF r SKIP LOCKED
    ), ready AS (
        SELECT c.id FROM (SELECT * FROM queued UNION ALL SELECT * FROM due) c
        ORDER BY c.priority DESC, c.run_at, c.id LIMIT p_limit
    ), claimed AS (
        UPDATE {s}.tasks t SET state = 'running', attempts = t.attempts + p_count,
            lease_token = p_token,
            lease_expires_at = now() + p_lease_seconds * interval '1 second',
            started_at = now(), worker_id = p_worker
        FROM ready WHERE t.id = ready.id
        RETURNING t.id, t.name, t.queue, t.payload, t.priority, t.attempts,
                  t.max_attempts, t.timeout, t.created_at, t.run_at, t.unique_key
    )
    SELECT * FROM claimed;
END
$$;
CREATE OR REPLACE FUNCTION {s}.claim_created(p_token text, p_lease_seconds double precision,
                                               p_worker text, p_names text[], p_queues text[],
                                               p_limit integer, p_count integer)
RETURNS TABLE (id uuid, name text, queue text, payload text, priority integer,
               attempts integer, max_attempts integer, timeout double precision,
               created_at timestamptz, run_at timestamptz, unique_key text)
LANGUAGE plpgsql VOLATILE ROWS 10
SET enable_sort = off SET enable_seqscan = off SET jit = off AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH queued AS (
        SELECT r.id, r.priority, r.run_at FROM {s}.tasks r
        WHERE r.state = 'queued' AND r.run_at <= now()
          AND (p_names IS NULL OR r.name = ANY(p_names))
          AND (p_queues IS NULL OR r.queue = ANY(p_queues))
        ORDER BY r.id
        LIMIT p_limit FOR UPDATE OF r SKIP LOCKED
    ), due AS (
        SELECT r.id, r.priority, r.run_at FROM {s}.tasks r
        WHERE r.state IN ('scheduled','retrying') AND r.run_at <= now()
          AND (p_names IS NULL OR r.name = ANY(p_names))
          AND (p_queues IS NULL OR r.queue = ANY(p_queues))
        ORDER BY r.run_at
        LIMIT p_limit FOR UPDATE OF r SKIP LOCKED
    ), ready AS (
        SELECT c.id FROM (SELECT * FROM queued UNION ALL SELECT * FROM due) c
        ORDER BY c.id LIMIT p_limit
    ), claimed AS (
        UPDATE {s}.tasks t SET state = 'running', attempts = t.attempts + p_count,
            lease_token = p_token,
            lease_expires_at = now() + p_lease_seconds * interval '1 second',
            started_at = now(), worker_id = p_worker
        FROM ready WHERE t.id = ready.id
        RETURNING t.id, t.name, t.queue, t.payload, t.priority, t.attempts,
                  t.max_attempts, t.timeout, t.created_at, t.run_at, t.unique_key
    )
    SELECT * FROM claimed;
END
$$;
DROP INDEX {s}.tasks_ready;
DROP INDEX {s}.tasks_ready_created;
