-- 7: the worker registry, one row per running worker written by its heartbeat (info is
-- the core's JSON; times by the server's clock, UTC)
CREATE TABLE IF NOT EXISTS {workers} (
    id VARCHAR(255) NOT NULL,
    info MEDIUMTEXT NOT NULL,
    started_at DATETIME(6) NOT NULL,
    last_seen_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
