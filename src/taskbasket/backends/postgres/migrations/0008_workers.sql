-- 8: the worker registry, one row per running worker written by its heartbeat (info is
-- the core's JSON; times by the server's clock)
CREATE TABLE {s}.workers (
    id text PRIMARY KEY,
    info text NOT NULL,
    started_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
