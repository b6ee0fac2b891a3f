-- 7: the worker registry, one row per running worker written by its heartbeat (info is
-- the core's JSON; times in whole microseconds since the epoch)
CREATE TABLE {workers} (
    id TEXT PRIMARY KEY,
    info TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
