
-- ARGV: P, lease (microseconds), then id, token pairs
local expires = us(NOW + tonumber(ARGV[2]))
local out = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local v = redis.call('HMGET', tkey(id), 'state', 'lease_token')
  if v[1] == 'running' and v[2] == token then
    redis.call('HSET', tkey(id), 'lease_expires_at', expires)
    zadd(LEASE, expires, id)
    out[#out + 1] = id
  end
end
flush_sets()
return out
