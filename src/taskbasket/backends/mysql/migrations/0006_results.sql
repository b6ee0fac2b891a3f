-- 6: a succeeded task's result (encoded JSON) and its handler's last progress report
-- (JSON: done, total, note, updated_at), both in the task's row so they go when it goes
ALTER TABLE {tasks} ADD COLUMN result LONGTEXT NULL, ADD COLUMN progress TEXT NULL;
