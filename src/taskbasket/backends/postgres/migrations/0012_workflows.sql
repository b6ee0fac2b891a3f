-- 12: workflows. The waiting state; a task's workflow, how many of its dependencies have
-- not succeeded yet, and the dependency whose failure cancelled it; one edge row per
-- dependency, gone with the task that has it
ALTER TABLE {s}.tasks DROP CONSTRAINT tasks_state_check;
ALTER TABLE {s}.tasks ADD CONSTRAINT tasks_state_check CHECK (state IN
    ('waiting','queued','scheduled','running','retrying','succeeded','failed','cancelled'));
ALTER TABLE {s}.tasks ADD COLUMN workflow_id uuid,
    ADD COLUMN waiting_on integer NOT NULL DEFAULT 0, ADD COLUMN blocked_by uuid;
CREATE INDEX tasks_workflow ON {s}.tasks (workflow_id) WHERE workflow_id IS NOT NULL;
CREATE TABLE {s}.dependencies (
    task_id uuid NOT NULL REFERENCES {s}.tasks (id) ON DELETE CASCADE,
    depends_on uuid NOT NULL,
    position integer NOT NULL,
    PRIMARY KEY (task_id, depends_on)
);
CREATE INDEX dependencies_parent ON {s}.dependencies (depends_on);
