
-- a filter spec in ARGV from index i: count, items... (count -1: any) for states,
-- queues and names; returns lists (nil: any) and the next index
local function spec_list(i)
  local n = tonumber(ARGV[i])
  if n < 0 then return nil, i + 1 end
  local list = {}
  for x = 1, n do list[x] = ARGV[i + x] end
  return list, i + n + 1
end
local function read_spec(i)
  local states, queues, names
  states, i = spec_list(i)
  queues, i = spec_list(i)
  names, i = spec_list(i)
  return states, queues, names, i
end
local function as_set(list)
  if not list then return nil end
  local set = {}
  for _, v in ipairs(list) do set[v] = true end
  return set
end
-- the (queue, name) pairs that hold tasks, among the given queues and names (nil: any)
local function known_pairs(queues, names)
  local out = {}
  if queues and names then
    for _, q in ipairs(queues) do
      for _, n in ipairs(names) do out[#out + 1] = {q, n} end
    end
    return out
  end
  local qs, ns = as_set(queues), as_set(names)
  for _, f in ipairs(redis.call('HKEYS', PAIRS)) do
    local tab = string.find(f, '\t', 1, true)
    local q, n = string.sub(f, 1, tab - 1), string.sub(f, tab + 1)
    if (not qs or qs[q]) and (not ns or ns[n]) then out[#out + 1] = {q, n} end
  end
  return out
end
-- the index sets that hold the tasks a spec selects
local function spec_keys(states, queues, names)
  states = states or ALL_STATES
  local keys = {}
  for _, qn in ipairs(known_pairs(queues, names)) do
    for _, s in ipairs(states) do keys[#keys + 1] = idxkey(s, qn[1], qn[2]) end
  end
  return keys
end
-- the pairs whose queue is not paused (flow control: a paused queue gives no task)
local function unpaused(pairs_list)
  if redis.call('SCARD', P .. ':paused') == 0 then return pairs_list end
  local out, seen = {}, {}
  for _, qn in ipairs(pairs_list) do
    local q = qn[1]
    if seen[q] == nil then seen[q] = redis.call('SISMEMBER', P .. ':paused', q) == 0 end
    if seen[q] then out[#out + 1] = qn end
  end
  return out
end
