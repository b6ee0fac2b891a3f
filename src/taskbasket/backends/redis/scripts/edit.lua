
-- ARGV: P, JSON [id, expected history or false, history, payload or false, queue or
-- false, priority or false]. Edits a failed or cancelled task whose history is the one
-- expected and whose unique key no other live task holds, and queues it again from
-- scratch (under its new queue and priority), its cancelled dependents waiting again;
-- returns 1, or 0 if it left it as it was.
local a = cjson.decode(ARGV[2])
local id, expected, hist, payload, queue, prio = a[1], a[2], a[3], a[4], a[5], a[6]
local h = load(id, fields('history'))
if not h or (h.state ~= 'failed' and h.state ~= 'cancelled') then return 0 end
if (h.history or false) ~= expected then return 0 end
if h.unique_key then
  local other = redis.call('HGET', UNIQUE, h.unique_key)
  if other and other ~= id then
    local st = redis.call('HGET', tkey(other), 'state')
    if st and not FINAL[st] then return 0 end
  end
end
local q, p = queue or h.queue, prio or h.priority
-- out of the structures of its old queue, state and priority; into those of the new
leave(id, h)
zrem(idxkey(h.state, h.queue, h.name), id)
bump(h.queue, h.state, -1)
pair(h.queue, h.name, -1)
local set = {'state', 'queued', 'queue', q, 'priority', us(p), 'attempts', '0', 'snoozes',
             '0', 'run_at', us(NOW), 'history', hist}
if payload then
  set[#set + 1] = 'payload'
  set[#set + 1] = payload
end
local k = tkey(id)
redis.call('HSET', k, unpack(set))
redis.call('HDEL', k, 'finished_at', 'started_at', 'lease_token', 'lease_expires_at')
zadd(readykey(q, h.name), 0, rank(p, NOW, id))
zadd(idxkey('queued', q, h.name), 0, id)
bump(q, 'queued', 1)
pair(q, h.name, 1)
wake(q)
if h.unique_key then redis.call('HSET', UNIQUE, h.unique_key, id) end
wf_restore(id)  -- the dependents its failure cancelled wait again
flush()
return 1
