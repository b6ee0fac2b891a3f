-- 9: how many times a task snoozed (Snooze: an attempt that ended uncounted) and its
-- history (JSON, written whole by the core: its last attempts and edits, bounded)
ALTER TABLE {tasks} ADD COLUMN snoozes INT NOT NULL DEFAULT 0, ADD COLUMN history MEDIUMTEXT NULL;
