-- 11: workflows. The waiting state (which holds a unique key like the other live states);
-- a task's workflow, how many of its dependencies have not succeeded yet, and the
-- dependency whose failure cancelled it; one edge row per dependency, gone with the task
-- that has it
ALTER TABLE {tasks}
    MODIFY state ENUM('queued','scheduled','running','retrying','succeeded','failed',
                      'cancelled','waiting') NOT NULL,
    MODIFY unique_active VARBINARY(1020) AS (
        IF(state IN ('waiting','queued','scheduled','running','retrying'), unique_key, NULL)
    ) STORED,
    ADD COLUMN workflow_id BINARY(16) NULL,
    ADD COLUMN waiting_on INT NOT NULL DEFAULT 0,
    ADD COLUMN blocked_by BINARY(16) NULL,
    ADD KEY workflow (workflow_id);
CREATE TABLE IF NOT EXISTS {dependencies} (
    task_id BINARY(16) NOT NULL,
    depends_on BINARY(16) NOT NULL,
    position INT NOT NULL,
    PRIMARY KEY (task_id, depends_on),
    KEY parent (depends_on),
    FOREIGN KEY (task_id) REFERENCES {tasks} (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
