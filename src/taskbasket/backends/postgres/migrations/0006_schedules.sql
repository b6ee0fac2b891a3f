-- 6: schedules, fired by a compare-and-set of next_run_at (microsecond timestamps)
CREATE TABLE {s}.schedules (
    name text PRIMARY KEY,
    task_name text NOT NULL,
    spec text NOT NULL,
    options text NOT NULL,
    paused boolean NOT NULL DEFAULT false,
    next_run_at timestamptz NOT NULL,
    last_run_at timestamptz,
    last_task_id text,
    skipped bigint NOT NULL DEFAULT 0
);
