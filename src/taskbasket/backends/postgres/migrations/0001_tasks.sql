
    CREATE TABLE {s}.tasks (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        queue text NOT NULL,
        state text NOT NULL CONSTRAINT tasks_state_check CHECK (state IN
            ('queued','scheduled','running','retrying','succeeded','failed','cancelled')),
        payload text NOT NULL,
        priority integer NOT NULL DEFAULT 0,
        attempts integer NOT NULL DEFAULT 0,
        max_attempts integer NOT NULL,
        timeout double precision NOT NULL,
        unique_key text,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        run_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        lease_expires_at timestamptz,
        lease_token text,
        worker_id text
    ) WITH (
        -- a queue table churns: vacuum it after 1% of its rows changed, not the default 20%
        autovacuum_vacuum_scale_factor = 0.01,
        autovacuum_vacuum_threshold = 1000,
        autovacuum_vacuum_insert_scale_factor = 0.05,
        autovacuum_analyze_scale_factor = 0.02,
        autovacuum_vacuum_cost_delay = 1
    );
    -- claims walk this in claim order; it holds pending tasks only, so its size and the
    -- claim's cost do not grow with finished tasks
    CREATE INDEX tasks_ready ON {s}.tasks (priority DESC, run_at, id)
        WHERE state IN ('queued','scheduled','retrying');
    CREATE INDEX tasks_due ON {s}.tasks (run_at) WHERE state IN ('scheduled','retrying');
    CREATE INDEX tasks_leases ON {s}.tasks (lease_expires_at) WHERE state = 'running';
    CREATE UNIQUE INDEX tasks_unique ON {s}.tasks (unique_key)
        WHERE unique_key IS NOT NULL AND state NOT IN ('succeeded','failed','cancelled');
    CREATE INDEX tasks_finished ON {s}.tasks (finished_at) WHERE finished_at IS NOT NULL;
    -- the inspector's counts of final tasks; partial, so no claim ever plans on it or
    -- updates it (pending and running tasks are counted through the two indexes above)
    CREATE INDEX tasks_final ON {s}.tasks (state, queue, name) WHERE state IN ('succeeded','failed','cancelled');
    -- The claim, planned with sorting and sequential scans disabled (like SQLite's
    -- INDEXED BY): its only plan walks tasks_ready in claim order, stops after p_limit
    -- rows, and updates them through the primary key. Left to itself, the planner sorts
    -- every pending task whenever the statistics say there are few of them, which is
    -- always the case in a table of mostly finished tasks; and a cached plan made while
    -- the table was small would keep scanning it whole as it grows.
    CREATE FUNCTION {s}.claim(p_token text, p_lease_seconds double precision,
                                p_worker text, p_names text[], p_queues text[],
                                p_limit integer)
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
              AND r.name = ANY(p_names) AND (p_queues IS NULL OR r.queue = ANY(p_queues))
            ORDER BY r.priority DESC, r.run_at, r.id
            LIMIT p_limit FOR UPDATE OF r SKIP LOCKED
        ), claimed AS (
            UPDATE {s}.tasks t SET state = 'running', attempts = t.attempts + 1,
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
    