-- 1: the tasks table. MySQL has no partial indexes: unique_active holds a task's unique
-- key only while the task is not final (a UNIQUE index keeps keys unique among live
-- tasks), and pending leads the claim index, so finished rows sit outside its range.
CREATE TABLE IF NOT EXISTS {tasks} (
    id BINARY(16) NOT NULL,
    name VARCHAR(200) NOT NULL,
    queue VARCHAR(200) NOT NULL,
    state ENUM('queued','scheduled','running','retrying','succeeded','failed',
               'cancelled') NOT NULL,
    payload LONGTEXT NOT NULL,
    priority SMALLINT NOT NULL DEFAULT 0,
    attempts INT NOT NULL DEFAULT 0,
    max_attempts INT NOT NULL,
    timeout DOUBLE NOT NULL,
    unique_key VARBINARY(1020) NULL,
    last_error LONGTEXT NULL,
    created_at DATETIME(6) NOT NULL,
    run_at DATETIME(6) NOT NULL,
    started_at DATETIME(6) NULL,
    finished_at DATETIME(6) NULL,
    lease_expires_at DATETIME(6) NULL,
    lease_token VARBINARY(64) NULL,
    worker_id VARCHAR(255) NULL,
    pending TINYINT AS (IF(state IN ('queued','scheduled','retrying'), 1, 0)) STORED,
    unique_active VARBINARY(1020) AS (
        IF(state IN ('queued','scheduled','running','retrying'), unique_key, NULL)
    ) STORED,
    PRIMARY KEY (id),
    UNIQUE KEY unique_active (unique_active),
    KEY ready (pending, priority DESC, run_at, id),
    KEY due (state, run_at),
    KEY leases (state, lease_expires_at),
    KEY finished (state, finished_at),
    KEY listing (state, queue, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;
