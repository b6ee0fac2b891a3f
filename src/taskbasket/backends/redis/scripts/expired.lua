
-- ARGV: P, limit. Running tasks whose lease expired, longest expired first: id, token,
-- name, queue, attempts, max_attempts as stored, what is wrong with the hash (false
-- if nothing: the core fails a corrupt one), then worker_id, started_at and history (false
-- where absent: they inform the lost attempt's history entry). Leftover entries (no
-- running task) are removed.
local out = {}
local limit = tonumber(ARGV[2])
local names = fields('lease_token', 'max_attempts', 'payload', 'timeout', 'created_at')
while #out < limit do
  local ids = redis.call('ZRANGEBYSCORE', LEASE, '-inf', '(' .. us(NOW), 'LIMIT', 0,
                         limit - #out)
  if #ids == 0 then break end
  local leftovers = 0
  for _, id in ipairs(ids) do
    local h = load(id, names)
    if h and h.state == 'running' then
      local v = redis.call('HMGET', tkey(id), 'attempts', 'max_attempts', 'worker_id',
                           'started_at', 'history')
      out[#out + 1] = {id, h.lease_token or '', h.name or '', h.queue or '', v[1] or '',
                       v[2] or '', unsound(id, h), v[3], v[4], v[5]}
    else
      redis.call('ZREM', LEASE, id)
      leftovers = leftovers + 1
    end
  end
  if leftovers == 0 then break end
end
return out
