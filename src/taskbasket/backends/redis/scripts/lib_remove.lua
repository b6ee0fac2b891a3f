local function remove(id, h)
  leave(id, h)
  if h.unique_key and not FINAL[h.state]
      and redis.call('HGET', UNIQUE, h.unique_key) == id then
    redis.call('HDEL', UNIQUE, h.unique_key)
  end
  zrem(idxkey(h.state, h.queue, h.name), id)
  bump(h.queue, h.state, -1)
  pair(h.queue, h.name, -1)
  local wid = redis.call('HGET', tkey(id), 'workflow_id')
  if wid then redis.call('ZREM', P .. ':wf:' .. wid, id) end
  redis.call('DEL', tkey(id), P .. ':deps:' .. id, P .. ':dependents:' .. id)
end

