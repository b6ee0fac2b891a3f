-- 5: schedules, fired by a compare-and-set of next_run_at (times in whole microseconds
-- since the epoch, so that the compare is exact)
CREATE TABLE {schedules} (
    name TEXT PRIMARY KEY,
    task_name TEXT NOT NULL,
    spec TEXT NOT NULL,
    options TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    next_run_at INTEGER NOT NULL,
    last_run_at INTEGER,
    last_task_id TEXT,
    skipped INTEGER NOT NULL DEFAULT 0
);
