
-- ARGV: P, states... The number of tasks of each name in those states: name, count pairs.
local counts, order = {}, {}
for _, qn in ipairs(known_pairs(nil, nil)) do
  local n = 0
  for i = 2, #ARGV do n = n + redis.call('ZCARD', idxkey(ARGV[i], qn[1], qn[2])) end
  if n > 0 then
    if not counts[qn[2]] then
      order[#order + 1] = qn[2]
      counts[qn[2]] = 0
    end
    counts[qn[2]] = counts[qn[2]] + n
  end
end
local out = {}
for _, name in ipairs(order) do
  out[#out + 1] = name
  out[#out + 1] = counts[name]
end
return out
