
-- ARGV: P, operation (cancel, retry, delete), finished_before (microseconds, '' none),
-- reason (a cancel's last_error), spec..., ids... Applies the operation to those ids that
-- match; returns how many.
local op = ARGV[2]
local fb = nil
if ARGV[3] ~= '' then fb = NOW - tonumber(ARGV[3]) end
local reason = ARGV[4]
local states, queues, names, i = read_spec(5)
states, queues, names = as_set(states), as_set(queues), as_set(names)
local retryable = {failed = true, cancelled = true, retrying = true, scheduled = true}
local n = 0
local extra = fields('finished_at')
for x = i, #ARGV do
  local id = ARGV[x]
  local h = load(id, extra)
  if h and (not states or states[h.state]) and (not queues or queues[h.queue])
      and (not names or names[h.name])
      and (not fb or (FINAL[h.state] and h.finished_at and tonumber(h.finished_at) < fb)) then
    if op == 'delete' then
      remove(id, h)
      n = n + 1
    elseif op == 'cancel' then
      if not FINAL[h.state] then
        move(id, h, 'cancelled', {'finished_at', us(NOW), 'last_error', reason},
             {'lease_token', 'lease_expires_at'}, NOW)
        wf_cascade({id})
        n = n + 1
      end
    elseif op == 'retry' and retryable[h.state] then
      local blocked = false
      if h.unique_key and FINAL[h.state] then
        local other = redis.call('HGET', UNIQUE, h.unique_key)
        if other and other ~= id then
          local st = redis.call('HGET', tkey(other), 'state')
          blocked = st and not FINAL[st]
        end
      end
      if not blocked then
        local to = 'queued'  -- one with dependencies left waits for them again
        if (tonumber(redis.call('HGET', tkey(id), 'waiting_on')) or 0) > 0 then to = 'waiting' end
        move(id, h, to, {'attempts', '0', 'snoozes', '0', 'run_at', us(NOW)},
             {'finished_at', 'started_at', 'lease_token', 'lease_expires_at', 'blocked_by'}, NOW)
        wf_restore(id)
        n = n + 1
      end
    end
  end
end
flush()
return n
