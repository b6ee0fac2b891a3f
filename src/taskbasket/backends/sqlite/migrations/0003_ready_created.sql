-- claims in enqueue order (ClaimOrder.CREATED) walk pending tasks by id
CREATE INDEX {tasks}_ready_created ON {tasks} (id) WHERE state IN ('queued','scheduled','retrying');
