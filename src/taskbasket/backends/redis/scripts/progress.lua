
-- ARGV: P, id, token, progress (JSON): written only while that lease is the current one
local v = redis.call('HMGET', tkey(ARGV[2]), 'state', 'lease_token')
if v[1] == 'running' and v[2] == ARGV[3] then
  redis.call('HSET', tkey(ARGV[2]), 'progress', ARGV[4])
  return 1
end
return 0
