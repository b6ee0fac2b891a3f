-- a queued hash that is unsound is failed with the reason instead of claimed, so
-- claims go on
local function set_aside(id, h, m, k, q, n, why)
  zrem(k, m)  -- its candidate: a ready set's member, or an id (claims in enqueue order)
  local ready = readykey(q, n)
  if k ~= ready and number_in(h.priority, -32768, 32767, true)
      and number_in(h.run_at, 0, MAX_US, true) then
    zrem(ready, rank(h.priority, h.run_at, id))  -- its ready member too, if it has one
  end
  redis.call('HSET', tkey(id), 'state', 'failed', 'finished_at', us(NOW), 'last_error',
             'StoreCorruptedError: task ' .. id .. ' is corrupt in the store (' .. why ..
             '); it was failed instead of run. Fix its hash and retry it, or delete it')
  redis.call('HDEL', tkey(id), 'lease_token', 'lease_expires_at')
  zadd(donekey('failed'), us(NOW), id)
  zrem(idxkey('queued', q, n), id)
  zadd(idxkey('failed', q, n), 0, id)
  bump(q, 'queued', -1)
  bump(q, 'failed', 1)
  if h.unique_key and redis.call('HGET', UNIQUE, h.unique_key) == id then
    redis.call('HDEL', UNIQUE, h.unique_key)
  end
end

