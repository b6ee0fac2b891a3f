
-- ARGV: P, JSON [id, token, steps or false, swap (true/false), expected messages or
-- false, new messages or false]. Writes the task's steps (and swaps its messages, only if
-- they are still the expected ones) while that lease is the current one; 1, or 0.
local a = cjson.decode(ARGV[2])
local id, token, steps, swap, expected, new = a[1], a[2], a[3], a[4], a[5], a[6]
local k = tkey(id)
local v = redis.call('HMGET', k, 'state', 'lease_token', 'messages')
if v[1] ~= 'running' or v[2] ~= token then return 0 end
if swap then
  if v[3] ~= expected then return 0 end
  if new then redis.call('HSET', k, 'messages', new) else redis.call('HDEL', k, 'messages') end
end
if steps then redis.call('HSET', k, 'steps', steps) else redis.call('HDEL', k, 'steps') end
return 1
