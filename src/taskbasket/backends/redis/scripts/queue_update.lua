#!lua flags=no-cluster
-- a queue's settings (flow control): ARGV: P, name, then field, value pairs among
-- paused ('1'/'0'), concurrency and rate_limit ('' lifts a limit). The hash P:queues holds
-- each queue's JSON; the set P:paused the paused ones, which every claim reads.
local P, name = ARGV[1], ARGV[2]
local raw = redis.call('HGET', P .. ':queues', name)
local q = raw and cjson.decode(raw) or {paused = false}
for x = 3, #ARGV, 2 do
  local f, v = ARGV[x], ARGV[x + 1]
  if f == 'paused' then q.paused = v == '1'
  elseif f == 'concurrency' then q.concurrency = v ~= '' and tonumber(v) or nil
  elseif f == 'rate_limit' then q.rate_limit = v ~= '' and v or nil end
end
redis.call('HSET', P .. ':queues', name, cjson.encode(q))
if q.paused then redis.call('SADD', P .. ':paused', name)
else redis.call('SREM', P .. ':paused', name) end
return 1
