
-- ARGV: P, spec... The number of tasks the spec selects.
local states, queues, names = read_spec(2)
if not states and not queues and not names then
  local total = 0
  for _, v in ipairs(redis.call('HVALS', COUNTS)) do total = total + tonumber(v) end
  return total
end
local total = 0
if not names then
  states = states or ALL_STATES
  if not queues then
    local seen = {}
    queues = {}
    for _, qn in ipairs(known_pairs(nil, nil)) do
      if not seen[qn[1]] then
        seen[qn[1]] = true
        queues[#queues + 1] = qn[1]
      end
    end
  end
  for _, q in ipairs(queues) do
    for _, s in ipairs(states) do
      total = total + (tonumber(redis.call('HGET', COUNTS, q .. '\t' .. s)) or 0)
    end
  end
  return total
end
for _, k in ipairs(spec_keys(states, queues, names)) do
  total = total + redis.call('ZCARD', k)
end
return total
