#!lua flags=no-cluster
-- ARGV: P; k, then k queue, name pairs whose keys to check as well (a batch sent as
-- several calls names every pair of the batch in each call); then groups of tasks that
-- share their options: count, name, queue, priority, max_attempts (both integers),
-- timeout, unique key ('' none), run mode ('a' absolute, 'd' delay), run value
-- (microseconds), limit key ('' none), then count id, payload pairs. Returns position, id pairs (positions
-- count the call's tasks from 1) for the tasks not added because their unique key is held.
local call, format, P = redis.call, string.format, ARGV[1]
local NOW
do
  local t = call('TIME')
  NOW = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local TASK, READY, IDX = P .. ':t:', P .. ':ready:', P .. ':idx:'
local SCHED, UNIQUE, COUNTS, PAIRS = P .. ':sched', P .. ':unique', P .. ':counts', P .. ':pairs'
local WAKE, WAKE_ALL = P .. ':wake:', P .. ':wake-all'
local size = #ARGV
local function fail(why) error({err = 'ERR taskbasket insert: ' .. why}) end
local function int(x)
  local n = tonumber(x)
  if not n or n ~= math.floor(n) then fail('not an integer: ' .. tostring(x)) end
  return n
end

-- 1. Read and check everything: Redis keeps what a script wrote before an error, so the
-- first write comes after the last step that can fail. Each key (and counter) written
-- later is read once here, where a wrong type fails; so are the arguments.
local read = {}  -- key (or hash and field) -> what reading it first returned
local function check(command, k)
  if read[k] == nil then read[k] = call(command, k) end
end
local function check_counter(hash, f)
  local k = hash .. '\0' .. f
  if read[k] == nil then
    local v = call('HGET', hash, f)
    if v and not string.match(v, '^%-?%d+$') then
      fail('corrupt counter: ' .. hash .. ' holds ' .. f .. ' = ' .. v)
    end
    read[k] = true
  end
end
local function check_pair(q, name, state)
  if state == 'queued' then
    check('ZCARD', READY .. q .. '\t' .. name)
    check('LLEN', WAKE .. q)
    check('LLEN', WAKE_ALL)
  else
    check('ZCARD', SCHED)
  end
  check('ZCARD', IDX .. state .. ':' .. q .. '\t' .. name)
  check_counter(COUNTS, q .. '\t' .. state)
  check_counter(PAIRS, q .. '\t' .. name)
end
-- when the tasks of the group at ARGV index g are due, and so their state
local function due(g)
  local run_at = tonumber(ARGV[g + 8])
  if ARGV[g + 7] == 'd' then run_at = NOW + run_at end
  if run_at <= NOW then return run_at, 'queued' end
  return run_at, 'scheduled'
end
local start = 3 + 2 * int(ARGV[2])
for x = 3, start - 1, 2 do
  check_pair(ARGV[x], ARGV[x + 1], 'queued')
  check_pair(ARGV[x], ARGV[x + 1], 'scheduled')
end
-- the tasks to add: not one whose unique key a task that is not final holds, nor one whose
-- id exists (an insert resent after a dropped connection: done before), nor a second copy
local out, added, holders = {}, {}, {}
local position, i = 0, start
while i <= size do
  local n, prio = int(ARGV[i]), int(ARGV[i + 3])
  int(ARGV[i + 4])
  local first, ukey = i + 10, ARGV[i + 6]
  if n < 1 or prio < -32768 or prio > 32767 or not tonumber(ARGV[i + 5])
      or not tonumber(ARGV[i + 8]) or (ARGV[i + 7] ~= 'a' and ARGV[i + 7] ~= 'd')
      or first + 2 * n - 1 > size then
    fail('malformed arguments at ' .. i)
  end
  local _, state = due(i)
  check_pair(ARGV[i + 2], ARGV[i + 1], state)
  local existing
  if n == 1 then
    existing = call('EXISTS', TASK .. ARGV[first])
  else
    local keys = {}
    for x = 1, n do keys[x] = TASK .. ARGV[first + 2 * x - 2] end
    existing = 0
    for from = 1, n, 4000 do
      existing = existing + call('EXISTS', unpack(keys, from, math.min(n, from + 3999)))
    end
  end
  for x = first, first + 2 * n - 2, 2 do
    local id, holder = ARGV[x], false
    if ukey ~= '' then
      local other = holders[ukey]
      if other then
        if other ~= id then holder = other end
      else
        other = call('HGET', UNIQUE, ukey)
        if other and other ~= id then
          local st = call('HGET', TASK .. other, 'state')
          if st and st ~= 'succeeded' and st ~= 'failed' and st ~= 'cancelled' then
            holder = other
          end
        end
      end
    end
    if holder then
      out[#out + 1] = position + (x - first) / 2 + 1
      out[#out + 1] = holder
    elseif not added[id] and (existing == 0 or call('EXISTS', TASK .. id) == 0) then
      added[id] = x  -- the ARGV index of the copy to add
      if ukey ~= '' then holders[ukey] = id end
    end
  end
  position = position + n
  i = first + 2 * n
end

-- 2. Write: one HSET per task; the sorted sets, counters and wake-ups once per group
local wakes, total = {}, 0
local created = format('%d', NOW)
i = start
while i <= size do
  local n, name, q, prio = tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local maxa, timeout, ukey, first = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], i + 10
  local lkey = ARGV[i + 9]
  local run_at, state = due(i)
  local at = format('%d', run_at)
  local rank = state == 'queued' and format('%04x%016d', 32767 - tonumber(prio), run_at)
  local members, index, m = {}, {}, 0
  for x = first, first + 2 * n - 2, 2 do
    local id = ARGV[x]
    if added[id] == x then
      if ukey ~= '' then
        call('HSET', TASK .. id, 'name', name, 'queue', q, 'state', state,
             'payload', ARGV[x + 1], 'priority', prio, 'attempts', '0', 'max_attempts', maxa,
             'timeout', timeout, 'created_at', created, 'run_at', at, 'unique_key', ukey)
        call('HSET', UNIQUE, ukey, id)
      else
        call('HSET', TASK .. id, 'name', name, 'queue', q, 'state', state,
             'payload', ARGV[x + 1], 'priority', prio, 'attempts', '0', 'max_attempts', maxa,
             'timeout', timeout, 'created_at', created, 'run_at', at)
      end
      if lkey ~= '' then
        call('HSET', TASK .. id, 'limit_key', lkey)
        if rank then
          call('ZADD', P .. ':keyed:' .. name .. '\t' .. lkey, '0', rank .. id)
          call('ZADD', P .. ':groups', '0', name .. '\t' .. lkey)
        end
      end
      m = m + 2
      if rank then
        members[m - 1], members[m] = '0', rank .. id
      else
        members[m - 1], members[m] = at, id
      end
      index[m - 1], index[m] = '0', id
    end
  end
  if m > 0 then
    local k = SCHED
    if rank then k = READY .. q .. '\t' .. name end
    for from = 1, m, 4000 do call('ZADD', k, unpack(members, from, math.min(m, from + 3999))) end
    k = IDX .. state .. ':' .. q .. '\t' .. name
    for from = 1, m, 4000 do call('ZADD', k, unpack(index, from, math.min(m, from + 3999))) end
    -- (a counter that reaches 0 goes, as everywhere)
    local f = q .. '\t' .. state
    if call('HINCRBY', COUNTS, f, m / 2) <= 0 then call('HDEL', COUNTS, f) end
    f = q .. '\t' .. name
    if call('HINCRBY', PAIRS, f, m / 2) <= 0 then call('HDEL', PAIRS, f) end
    if rank then
      wakes[q] = (wakes[q] or 0) + m / 2
      total = total + m / 2
    end
  end
  i = first + 2 * n
end
-- one token wakes one idle worker; at most WAKE_CAP wait in a list
local function push(k, n)
  n = math.min(n, __WAKE_CAP__ - read[k])
  if n > 0 then
    local tokens = {}
    for x = 1, n do tokens[x] = '1' end
    call('LPUSH', k, unpack(tokens))
  end
end
for q, n in pairs(wakes) do push(WAKE .. q, n) end
if total > 0 then push(WAKE_ALL, total) end
return out
