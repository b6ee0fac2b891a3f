-- 11: workflows. A task's workflow, how many of its dependencies have not succeeded yet,
-- and the dependency whose failure cancelled it; one edge row per dependency, gone with
-- the task that has it
ALTER TABLE {tasks} ADD COLUMN workflow_id TEXT;
ALTER TABLE {tasks} ADD COLUMN waiting_on INTEGER NOT NULL DEFAULT 0;
ALTER TABLE {tasks} ADD COLUMN blocked_by TEXT;
CREATE INDEX {tasks}_workflow ON {tasks} (workflow_id) WHERE workflow_id IS NOT NULL;
CREATE TABLE {dependencies} (
    task_id TEXT NOT NULL,
    depends_on TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (task_id, depends_on)
);
CREATE INDEX {dependencies}_parent ON {dependencies} (depends_on);
CREATE TRIGGER {dependencies}_forget AFTER DELETE ON {tasks} BEGIN DELETE FROM {dependencies} WHERE task_id = OLD.id; END;
