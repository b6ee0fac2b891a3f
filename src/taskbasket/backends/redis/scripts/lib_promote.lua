-- scheduled and retrying tasks whose run_at has come become queued
local function promote(max)
  local ids = redis.call('ZRANGEBYSCORE', SCHED, '-inf', us(NOW), 'LIMIT', 0, max)
  local n = 0
  for _, id in ipairs(ids) do
    local h = load(id)
    if h and (h.state == 'scheduled' or h.state == 'retrying') then
      move(id, h, 'queued', {}, nil, h.run_at)
      n = n + 1
    else
      zrem(SCHED, id)
    end
  end
  flush_sets()
  return n
end

