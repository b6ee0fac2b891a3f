-- 9: flow control. A task's limit_key ('' for none: a key is never empty); the index a
-- limited claim seeks the next (name, limit_key) group through, for fairness; queues'
-- settings (paused, limits); the start records of rate limits, which expire on their own
-- (running tasks are counted from their live leases: no counter is kept). Both claim
-- functions skip the tasks of paused queues, read in the claim itself.
ALTER TABLE {s}.tasks ADD COLUMN limit_key text NOT NULL DEFAULT '';
CREATE INDEX tasks_keyed ON {s}.tasks (name, limit_key, priority DESC, run_at, id)
    WHERE state = 'queued';
CREATE TABLE {s}.queues (
    name text PRIMARY KEY,
    paused boolean NOT NULL DEFAULT false,
    concurrency integer,
    rate_limit text
);
CREATE TABLE {s}.starts (
    grp text NOT NULL,
    expires timestamptz NOT NULL
);
CREATE INDEX starts_expires ON {s}.starts (expires);
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
          AND NOT EXISTS (SELECT 1 FROM {s}.queues p WHERE p.name = r.queue AND p.paused)
        ORDER BY r.priority DESC, r.run_at, r.id
        LIMIT p_limit FOR UPDATE OF r SKIP LOCKED
    ), due AS (
        SELECT r.id, r.priority, r.run_at FROM {s}.tasks r
        WHERE r.state IN ('scheduled','retrying') AND r.run_at <= now()
          AND (p_names IS NULL OR r.name = ANY(p_names))
          AND (p_queues IS NULL OR r.queue = ANY(p_queues))
          AND NOT EXISTS (SELECT 1 FROM {s}.queues p WHERE p.name = r.queue AND p.paused)
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
          AND NOT EXISTS (SELECT 1 FROM {s}.queues p WHERE p.name = r.queue AND p.paused)
        ORDER BY r.id
        LIMIT p_limit FOR UPDATE OF r SKIP LOCKED
    ), due AS (
        SELECT r.id, r.priority, r.run_at FROM {s}.tasks r
        WHERE r.state IN ('scheduled','retrying') AND r.run_at <= now()
          AND (p_names IS NULL OR r.name = ANY(p_names))
          AND (p_queues IS NULL OR r.queue = ANY(p_queues))
          AND NOT EXISTS (SELECT 1 FROM {s}.queues p WHERE p.name = r.queue AND p.paused)
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
