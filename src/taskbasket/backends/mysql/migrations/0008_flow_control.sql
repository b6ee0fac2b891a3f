-- 8: flow control. A task's limit_key ('' for none: a key is never empty) and the key a
-- limited claim seeks the next (name, limit_key) group through, for fairness; queues'
-- settings (paused, limits), whose row named '' (no queue has that name) is the lock
-- limited claims serialize on; and the start records of rate limits, which expire on
-- their own. Running tasks are counted from their live leases: no counter is kept.
ALTER TABLE {tasks} ADD COLUMN limit_key VARCHAR(200) NOT NULL DEFAULT '',
    ADD KEY keyed (state, name, limit_key, priority DESC, run_at, id);
CREATE TABLE IF NOT EXISTS {queues} (
    name VARCHAR(200) NOT NULL,
    paused TINYINT(1) NOT NULL DEFAULT 0,
    concurrency INT NULL,
    rate_limit VARCHAR(32) NULL,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT IGNORE INTO {queues} (name) VALUES ('');
CREATE TABLE IF NOT EXISTS {starts} (
    grp VARCHAR(500) NOT NULL,
    expires DATETIME(6) NOT NULL,
    KEY expires (expires)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
