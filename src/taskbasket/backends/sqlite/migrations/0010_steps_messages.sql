-- 10: a task's durable steps and its messages (JSON, written whole by the core: its
-- completed steps in order, and the messages sent to it and not yet taken), in its row
-- so they go when it goes
ALTER TABLE {tasks} ADD COLUMN steps TEXT;
ALTER TABLE {tasks} ADD COLUMN messages TEXT;
