-- 3: claims in enqueue order (ClaimOrder.CREATED) walk pending tasks by id
ALTER TABLE {tasks} ADD KEY ready_created (pending, id);
