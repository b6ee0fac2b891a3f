-- 5: schedules, fired by a compare-and-set of next_run_at (microsecond UTC datetimes)
CREATE TABLE IF NOT EXISTS {schedules} (
    name VARCHAR(200) NOT NULL,
    task_name VARCHAR(200) NOT NULL,
    spec TEXT NOT NULL,
    options MEDIUMTEXT NOT NULL,
    paused TINYINT(1) NOT NULL DEFAULT 0,
    next_run_at DATETIME(6) NOT NULL,
    last_run_at DATETIME(6) NULL,
    last_task_id VARCHAR(64) NULL,
    skipped BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
