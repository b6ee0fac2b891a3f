-- 8: flow control. A task's limit_key ('' for none: a key is never empty); the index a
-- limited claim seeks the next (name, limit_key) group through, for fairness; queues'
-- settings (paused, limits); and the start records of rate limits, which expire on their
-- own. Running tasks are counted from their live leases: no counter is kept.
ALTER TABLE {tasks} ADD COLUMN limit_key TEXT NOT NULL DEFAULT '';
CREATE INDEX {tasks}_keyed ON {tasks} (name, limit_key, priority DESC, run_at, id)
    WHERE state = 'queued';
CREATE TABLE {queues} (
    name TEXT PRIMARY KEY,
    paused INTEGER NOT NULL DEFAULT 0,
    concurrency INTEGER,
    rate_limit TEXT
);
CREATE TABLE {starts} (
    grp TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX {starts}_expires ON {starts} (expires);
