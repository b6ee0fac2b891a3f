#!lua flags=no-cluster
-- The fire of a schedule's slot: the compare-and-set of its next_run_at, then (with a task)
-- the insert script below, in this one script. ARGV: P, name, expected next_run_at, new
-- next_run_at, slot (microseconds), task id ('' none), skipped (0 or 1), then the insert's
-- arguments after its P. Returns 0 if the schedule is gone, paused or moved on; else 1, or
-- with a task the insert's reply.
do
  local k = ARGV[1] .. ':schedule:' .. ARGV[2]
  local current = redis.call('HMGET', k, 'next_run_at', 'paused')
  if not current[1] or current[1] ~= ARGV[3] or current[2] == '1' then return 0 end
  redis.call('HSET', k, 'next_run_at', ARGV[4])
  if ARGV[7] == '1' then redis.call('HINCRBY', k, 'skipped', 1) end
  if ARGV[6] == '' then return 1 end
  redis.call('HSET', k, 'last_run_at', ARGV[5], 'last_task_id', ARGV[6])
  for _ = 2, 7 do table.remove(ARGV, 2) end
end
