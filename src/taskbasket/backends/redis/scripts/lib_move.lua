-- take a task out of the structure its state keeps it in
local function leave(id, h)
  local s = h.state
  if s == 'queued' then
    zrem(readykey(h.queue, h.name), rank(h.priority, h.run_at, id))
    if h.limit_key then zrem(keyedkey(h.name, h.limit_key), rank(h.priority, h.run_at, id)) end
  elseif s == 'scheduled' or s == 'retrying' then
    zrem(SCHED, id)
  elseif s == 'running' then
    zrem(LEASE, id)
  elseif FINAL[s] then
    zrem(donekey(s), id)
  end
end

-- move a loaded task to state `to`: `set` holds field, value pairs to write, `del` fields
-- to remove, `at` the score in the new structure (run_at, lease expiry or finish time)
local function move(id, h, to, set, del, at)
  leave(id, h)
  local k = tkey(id)
  redis.call('HSET', k, 'state', to, unpack(set))
  if del and #del > 0 then redis.call('HDEL', k, unpack(del)) end
  if to == 'queued' then
    zadd(readykey(h.queue, h.name), 0, rank(h.priority, at, id))
    if h.limit_key then
      zadd(keyedkey(h.name, h.limit_key), 0, rank(h.priority, at, id))
      zadd(GROUPS, 0, h.name .. '\t' .. h.limit_key)
    end
    wake(h.queue)
  elseif to == 'scheduled' or to == 'retrying' then
    zadd(SCHED, us(at), id)
  elseif to == 'running' then
    zadd(LEASE, us(at), id)
  elseif to ~= 'waiting' then  -- a waiting task sits in no structure but its index
    zadd(donekey(to), us(at), id)
  end
  if h.unique_key then
    if FINAL[to] and not FINAL[h.state] then
      if redis.call('HGET', UNIQUE, h.unique_key) == id then
        redis.call('HDEL', UNIQUE, h.unique_key)
      end
    elseif FINAL[h.state] and not FINAL[to] then
      redis.call('HSET', UNIQUE, h.unique_key, id)
    end
  end
  if to ~= h.state then
    zrem(idxkey(h.state, h.queue, h.name), id)
    zadd(idxkey(to, h.queue, h.name), 0, id)
    bump(h.queue, h.state, -1)
    bump(h.queue, to, 1)
  end
end

-- claim a loaded queued task for `worker` under `token` until `expires` (`added` attempts
-- counted): the claim's reply row (its `h` loaded with max_attempts, payload, timeout,
-- created_at, snoozes and history)
local function take(id, h, added, token, expires, worker)
  local attempts = us(h.attempts + added)
  move(id, h, 'running', {'attempts', attempts, 'lease_token', token,
                          'lease_expires_at', us(expires), 'started_at', us(NOW),
                          'worker_id', worker}, nil, expires)
  return {id, h.name, h.queue, h.payload, us(h.priority), attempts, h.max_attempts,
          h.timeout, h.created_at, us(h.run_at), h.unique_key, h.limit_key,
          h.snoozes or '0', h.history}
end
