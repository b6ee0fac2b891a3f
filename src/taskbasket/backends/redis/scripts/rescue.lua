
-- ARGV: P, then per task: id, token, kind ('fail' or 'requeue'), error, delay
-- (microseconds), history ('': kept). Applied only while the task runs under that token with its lease
-- expired; returns 1 (applied) or 0 per task. A corrupt hash never stops the batch: its
-- expiry is read from the lease set if the hash holds none, a requeue waits for a
-- priority (0: the next rescue finds it corrupt and fails it), and one without its queue
-- or name is failed in its hash and the lease and done sets only (its index entries and
-- counters name both, so they are left).
local out = {}
local names = fields('lease_token', 'lease_expires_at')
for i = 2, #ARGV, 6 do
  local id, token, kind, err = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local delay = tonumber(ARGV[i + 4])
  local hist = ARGV[i + 5]
  local h = load(id, names)
  local expiry = h and (tonumber(h.lease_expires_at)
                        or tonumber(redis.call('ZSCORE', LEASE, id)))
  local placed = h and type(h.queue) == 'string' and type(h.name) == 'string'
  if h and h.state == 'running' and h.lease_token == token and expiry and expiry < NOW
      and (kind == 'fail' or (placed and h.priority)) then
    local del = {'lease_token', 'lease_expires_at'}
    if hist ~= '' then redis.call('HSET', tkey(id), 'history', hist) end
    if not placed then
      zrem(LEASE, id)
      redis.call('HSET', tkey(id), 'state', 'failed', 'finished_at', us(NOW), 'last_error', err)
      redis.call('HDEL', tkey(id), unpack(del))
      zadd(donekey('failed'), us(NOW), id)
    elseif kind == 'fail' then
      move(id, h, 'failed', {'finished_at', us(NOW), 'last_error', err}, del, NOW)
      wf_cascade({id})
    elseif delay > 0 then
      move(id, h, 'retrying', {'run_at', us(NOW + delay), 'last_error', err}, del,
           NOW + delay)
    else
      move(id, h, 'queued', {'run_at', us(NOW), 'last_error', err}, del, NOW)
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
flush()
return out
