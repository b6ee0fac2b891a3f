#!lua flags=no-cluster
-- ARGV: P, unseen_before (microseconds, '' for none), then worker ids. Deletes the rows of
-- those ids and of every worker last seen before unseen_before; how many were deleted.
local P, before = ARGV[1], ARGV[2]
local doomed = {}
for i = 3, #ARGV do doomed[ARGV[i]] = true end
if before ~= '' then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':workers:seen', '-inf', '(' .. before)) do
    doomed[id] = true
  end
end
local removed = 0
for id in pairs(doomed) do
  removed = removed + redis.call('ZREM', P .. ':workers:seen', id)
  redis.call('HDEL', P .. ':workers', id)
  redis.call('HDEL', P .. ':workers:started', id)
end
return removed
