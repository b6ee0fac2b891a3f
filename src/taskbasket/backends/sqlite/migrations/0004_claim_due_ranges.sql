-- 4: claims take queued tasks through {tasks}_queued (claim order) or _queued_created (id),
-- and due scheduled or retrying tasks through {tasks}_due (run_at), so a claim never walks
-- past tasks that are not due yet; the two ready indexes over every pending task go
CREATE INDEX {tasks}_queued ON {tasks} (priority DESC, run_at, id) WHERE state = 'queued';
CREATE INDEX {tasks}_queued_created ON {tasks} (id) WHERE state = 'queued';
CREATE INDEX {tasks}_due ON {tasks} (run_at) WHERE state IN ('scheduled','retrying');
DROP INDEX {tasks}_ready;
DROP INDEX {tasks}_ready_created;
