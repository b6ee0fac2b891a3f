CREATE TABLE {tasks} (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    queue TEXT NOT NULL,
    state TEXT NOT NULL,
    payload TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    timeout REAL NOT NULL,
    unique_key TEXT,
    last_error TEXT,
    created_at REAL NOT NULL,
    run_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    lease_expires_at REAL,
    lease_token TEXT,
    worker_id TEXT
);
CREATE INDEX {tasks}_ready ON {tasks} (priority DESC, run_at, id)
    WHERE state IN ('queued','scheduled','retrying');
CREATE INDEX {tasks}_leases ON {tasks} (lease_expires_at) WHERE state = 'running';
CREATE UNIQUE INDEX {tasks}_unique ON {tasks} (unique_key)
    WHERE unique_key IS NOT NULL AND state NOT IN ('succeeded','failed','cancelled');
CREATE INDEX {tasks}_finished ON {tasks} (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX {tasks}_state ON {tasks} (state, queue, name);
