#!lua flags=no-cluster
local P = ARGV[1]
local NOW
do
  local t = redis.call('TIME')
  NOW = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
-- numbers given to redis.call are printed with %.14g: print microseconds ourselves
local function us(x) return string.format('%d', x) end
local FINAL = {succeeded = true, failed = true, cancelled = true}
local ALL_STATES = {'waiting', 'queued', 'scheduled', 'running', 'retrying', 'succeeded',
                    'failed', 'cancelled'}
local SCHED, LEASE, UNIQUE = P .. ':sched', P .. ':lease', P .. ':unique'
local COUNTS, PAIRS = P .. ':counts', P .. ':pairs'
local WAKE_CAP = __WAKE_CAP__
local function tkey(id) return P .. ':t:' .. id end
local function readykey(q, n) return P .. ':ready:' .. q .. '\t' .. n end
local function idxkey(s, q, n) return P .. ':idx:' .. s .. ':' .. q .. '\t' .. n end
local function donekey(s) return P .. ':done:' .. s end
-- a keyed task's place among the queued tasks of its (name, limit_key) group, and the
-- groups (flow control's fairness: a limited claim seeks the next group)
local function keyedkey(n, k) return P .. ':keyed:' .. n .. '\t' .. k end
local GROUPS = P .. ':groups'
-- ready order: priority desc, then run_at, then id (the member's tail)
local function rank(prio, run_at, id)
  return string.format('%04x%016d', 32767 - prio, run_at) .. id
end

-- the fields every state change needs; a script that needs more passes a list of all it
-- reads, built once per call with fields() (HMGET's reply is most of a claim's cost)
local FIELDS = {'state', 'queue', 'name', 'priority', 'run_at', 'unique_key', 'attempts',
                'limit_key'}
local function fields(...)
  local names = {}
  for i, f in ipairs(FIELDS) do names[i] = f end
  for _, f in ipairs({...}) do names[#names + 1] = f end
  return names
end
local function load(id, names)
  names = names or FIELDS
  local v = redis.call('HMGET', tkey(id), unpack(names))
  if not v[1] then return nil end
  local h = {}
  for i, f in ipairs(names) do h[f] = v[i] end
  h.priority = tonumber(h.priority)
  h.run_at = tonumber(h.run_at)
  h.attempts = tonumber(h.attempts)
  return h
end

local deltas, wakes, paired = {}, {}, {}
local function bump(q, s, d)
  local f = q .. '\t' .. s
  deltas[f] = (deltas[f] or 0) + d
end
-- PAIRS counts the tasks of each queue and name: the catalog that claims and filters use
local function pair(q, n, d)
  local f = q .. '\t' .. n
  paired[f] = (paired[f] or 0) + d
end
local function wake(q) wakes[q] = (wakes[q] or 0) + 1 end
local function push(k, n)
  if n > WAKE_CAP then n = WAKE_CAP end
  local tokens = {}
  for i = 1, n do tokens[i] = '1' end
  if redis.call('LPUSH', k, unpack(tokens)) > WAKE_CAP then
    redis.call('LTRIM', k, 0, WAKE_CAP - 1)
  end
end
local function add_to(hash, f, d)
  if d ~= 0 and redis.call('HINCRBY', hash, f, us(d)) <= 0 then redis.call('HDEL', hash, f) end
end
-- sorted-set changes wait here, to be sent as one variadic command per key (many times
-- cheaper than one call per task); a script removes before it adds, and never touches one
-- member of one key twice between flushes
local zrems, zadds = {}, {}
local function later(bucket, k, a, b)
  local list = bucket[k]
  if not list then
    list = {}
    bucket[k] = list
  end
  list[#list + 1] = a
  if b then list[#list + 1] = b end
end
local function zrem(k, member) later(zrems, k, member) end
local function zadd(k, score, member) later(zadds, k, score, member) end
local function flush_sets()
  for _, step in ipairs({{'ZREM', zrems}, {'ZADD', zadds}}) do
    for k, list in pairs(step[2]) do
      for from = 1, #list, 4000 do
        redis.call(step[1], k, unpack(list, from, math.min(#list, from + 3999)))
      end
    end
  end
  zrems, zadds = {}, {}
end
local function flush()
  flush_sets()
  for f, d in pairs(deltas) do add_to(COUNTS, f, d) end
  for f, d in pairs(paired) do add_to(PAIRS, f, d) end
  local total = 0
  for q, n in pairs(wakes) do
    push(P .. ':wake:' .. q, n)
    total = total + n
  end
  if total > 0 then push(P .. ':wake-all', total) end
end

