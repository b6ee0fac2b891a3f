#!lua flags=no-cluster
-- ARGV: P, name, task name, spec, options, next_run_at (microseconds). Writes the schedule;
-- its next_run_at only if it is new or its spec changed; paused and counts stay.
local P, name = ARGV[1], ARGV[2]
local k = P .. ':schedule:' .. name
local spec = redis.call('HGET', k, 'spec')
if not spec then redis.call('HSET', k, 'paused', '0', 'skipped', '0') end
redis.call('HSET', k, 'task_name', ARGV[3], 'options', ARGV[5])
if spec ~= ARGV[4] then redis.call('HSET', k, 'spec', ARGV[4], 'next_run_at', ARGV[6]) end
redis.call('SADD', P .. ':schedules', name)
return 1
