-- the reads of a limited claim (flow control; the rule is in Python, backends.admission):
-- ARGV: P, promote batch, pool, seeks, cursor ('' none), queue count (-1 every queue),
-- queues..., then names... (none: every name), '\31', limited names...
-- Returns JSON: the flow version, now (microseconds), running (queue, name, key, count)
-- rows of live leases, start (group, count) rows, the head of due candidates (id, name,
-- queue, key) in claim order, and the heads of up to `seeks` keyed groups after the cursor
-- (wrapping round once). Expired start records and empty groups are dropped.
promote(tonumber(ARGV[2]))
flush()
local pool, seeks, cursor = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local queues, i = spec_list(6)
local names, limited = nil, {}
local into_limited = false
for x = i, #ARGV do
  if ARGV[x] == '\31' then into_limited = true
  elseif into_limited then limited[ARGV[x]] = true
  else names = names or {}; names[#names + 1] = ARGV[x] end
end
local function key_of(v) if v then return v end return cjson.null end
local running, counted = {}, {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', LEASE, '(' .. us(NOW), '+inf')) do
  local v = redis.call('HMGET', tkey(id), 'queue', 'name', 'limit_key', 'state')
  if v[4] == 'running' then
    local g = v[1] .. '\t' .. v[2] .. '\t' .. (v[3] or '')
    if not counted[g] then
      counted[g] = {v[1], v[2], key_of(v[3]), 0}
      running[#running + 1] = counted[g]
    end
    counted[g][4] = counted[g][4] + 1
  end
end
local STARTS = P .. ':starts'
redis.call('ZREMRANGEBYSCORE', STARTS, '-inf', us(NOW))
local starts, by_group = {}, {}
for _, m in ipairs(redis.call('ZRANGE', STARTS, 0, -1)) do
  local g = string.sub(m, 1, string.find(m, '\30', 1, true) - 1)
  if not by_group[g] then by_group[g] = {g, 0}; starts[#starts + 1] = by_group[g] end
  by_group[g][2] = by_group[g][2] + 1
end
local cands = {}
for _, qn in ipairs(unpaused(known_pairs(queues, names))) do
  for _, m in ipairs(redis.call('ZRANGE', readykey(qn[1], qn[2]), 0, pool - 1)) do
    cands[#cands + 1] = m
  end
end
table.sort(cands)
local head = {}
for x = 1, math.min(pool, #cands) do
  local id = string.sub(cands[x], 21)
  local v = redis.call('HMGET', tkey(id), 'name', 'queue', 'limit_key', 'state')
  if v[4] == 'queued' then head[#head + 1] = {id, v[1], v[2], key_of(v[3])} end
end
local heads, seen = {}, {}
local function seek_from(low)
  for _, g in ipairs(redis.call('ZRANGEBYLEX', GROUPS, low, '+', 'LIMIT', 0, seeks)) do
    if #heads >= seeks or seen[g] then return end
    seen[g] = true
    local tab = string.find(g, '\t', 1, true)
    local n, k = string.sub(g, 1, tab - 1), string.sub(g, tab + 1)
    local top = redis.call('ZRANGE', keyedkey(n, k), 0, 0)
    if #top == 0 then
      redis.call('ZREM', GROUPS, g)
    elseif limited[n] then
      local id = string.sub(top[1], 21)
      local v = redis.call('HMGET', tkey(id), 'queue', 'state')
      if v[2] == 'queued' and (not queues or as_set(queues)[v[1]])
          and redis.call('SISMEMBER', P .. ':paused', v[1]) == 0 then
        heads[#heads + 1] = {id, n, v[1], k}
      end
    end
  end
end
seek_from(cursor == '' and '-' or '(' .. cursor)
if cursor ~= '' then seek_from('-') end
local version = redis.call('GET', P .. ':flow:v') or '0'
return cjson.encode({version, us(NOW), running, starts, head, heads})
