-- 4: claims read bounded ranges and merge them (see statements.claim_select): queued tasks
-- through queued (claim order) or queued_created (id), due scheduled and retrying ones
-- through due (state, run_at); the ready keys over every pending task go, being used by
-- nothing else (the pending column stays: dropping a stored column rebuilds the table)
ALTER TABLE {tasks} ADD KEY queued (state, priority DESC, run_at, id),
    ADD KEY queued_created (state, id), DROP KEY ready, DROP KEY ready_created;
