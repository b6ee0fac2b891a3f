#!lua flags=no-cluster
-- ARGV: P, name, what ('pause', 'resume' or 'delete'). 1 if the schedule is stored, else 0.
local P, name, what = ARGV[1], ARGV[2], ARGV[3]
local k = P .. ':schedule:' .. name
if redis.call('EXISTS', k) == 0 then return 0 end
if what == 'delete' then
  redis.call('DEL', k)
  redis.call('SREM', P .. ':schedules', name)
else
  redis.call('HSET', k, 'paused', what == 'pause' and '1' or '0')
end
return 1
