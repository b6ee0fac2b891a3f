-- 8: how many times a task snoozed (Snooze: an attempt that ended uncounted) and its
-- history (JSON, written whole by the core: its last attempts and edits, bounded)
ALTER TABLE {s}.tasks ADD COLUMN snoozes integer NOT NULL DEFAULT 0, ADD COLUMN history text;
