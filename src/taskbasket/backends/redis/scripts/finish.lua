
-- ARGV: P, JSON array of outcomes: [id, token, kind (s, f, r, x; d: succeeded, and
-- deleted; z: deferred), error or false, retry mode ('a' absolute, 'd' delay), retry value
-- (microseconds), result (encoded JSON) or false, history (JSON) or false, snoozes added];
-- a batch that ended tasks publishes on P:finished for those waiting for results; a
-- success releases the dependents it was the last to wait for, a failure cancels those
-- waiting (lib_workflow)
local out = {}
local ended = false
local names = fields('lease_token')
for _, o in ipairs(cjson.decode(ARGV[2])) do
  local id, token, kind, err, mode, value, result = o[1], o[2], o[3], o[4], o[5], o[6], o[7]
  local hist, snoozed = o[8], o[9]
  local h = load(id, names)
  if h and h.state == 'running' and h.lease_token == token and kind == 'd' then
    wf_release(id)
    remove(id, h)
    out[#out + 1] = 1
  elseif h and h.state == 'running' and h.lease_token == token then
    local set, del = {}, {'lease_token', 'lease_expires_at'}
    if kind == 'f' or kind == 'r' then
      if err then
        set = {'last_error', err}
      else
        del[#del + 1] = 'last_error'
      end
    end
    if kind == 's' and result then
      set = {'result', result}
    end
    if hist then
      set[#set + 1] = 'history'
      set[#set + 1] = hist
    end
    if kind == 's' or kind == 'f' then
      ended = true
      set[#set + 1] = 'finished_at'
      set[#set + 1] = us(NOW)
      local to = 'succeeded'
      if kind == 'f' then to = 'failed' end
      move(id, h, to, set, del, NOW)
      if kind == 'f' then wf_cascade({id}) else wf_release(id) end
    elseif kind == 'r' then
      local at = value
      if mode == 'd' then at = NOW + value end
      set[#set + 1] = 'run_at'
      set[#set + 1] = us(at)
      move(id, h, 'retrying', set, del, at)
      if at <= NOW then wake(h.queue) end
    elseif kind == 'z' then
      local at = value
      if mode == 'd' then at = NOW + value end
      local attempts = h.attempts - 1
      if attempts < 0 then attempts = 0 end
      local snoozes = (tonumber(redis.call('HGET', tkey(id), 'snoozes') or '0') or 0) + snoozed
      for _, v in ipairs({'run_at', us(at), 'attempts', us(attempts), 'snoozes', us(snoozes)}) do
        set[#set + 1] = v
      end
      move(id, h, 'scheduled', set, del, at)
    else
      local attempts = h.attempts - 1
      if attempts < 0 then attempts = 0 end
      move(id, h, 'queued', {'attempts', us(attempts)},
           {'lease_token', 'lease_expires_at', 'started_at', 'worker_id'}, h.run_at)
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
flush()
if ended then redis.call('PUBLISH', P .. ':finished', '1') end
return out
