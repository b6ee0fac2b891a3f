
    CREATE INDEX tasks_ready_created ON {s}.tasks (id) WHERE state IN ('queued','scheduled','retrying');
    CREATE FUNCTION {s}.claim_created(p_token text, p_lease_seconds double precision,
                                        p_worker text, p_names text[], p_queues text[],
                                        p_limit integer, p_count integer)
    RETURNS TABLE (id uuid, name text, queue text, payload text, priority integer,
                   attempts integer, max_attempts integer, timeout double precision,
                   created_at timestamptz, run_at timestamptz, unique_key text)
    LANGUAGE plpgsql VOLATILE ROWS 10
    SET enable_sort = off SET enable_seqscan = off AS $$
    #variable_conflict use_column
    BEGIN
        RETURN QUERY
        WITH ready AS (
            SELECT r.id FROM {s}.tasks r
            WHERE r.state IN ('queued','scheduled','retrying') AND r.run_at <= now()
              AND (p_names IS NULL OR r.name = ANY(p_names))
              AND (p_queues IS NULL OR r.queue = ANY(p_queues))
            ORDER BY r.id
            LIMIT p_limit FOR UPDATE OF r SKIP LOCKED
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
    