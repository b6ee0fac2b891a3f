
-- ARGV: P, before id ('' for none), limit, rows (0: none, 1: whole hashes, 2: hashes
-- without the payload), spec...
-- The ids of the selected tasks below `before`, newest first, and their hashes.
local LISTED = {__LISTED_FIELDS__}
local limit = tonumber(ARGV[3])
local max = '+'
if ARGV[2] ~= '' then max = '(' .. ARGV[2] end
local states, queues, names = read_spec(5)
local found, seen = {}, {}
for _, k in ipairs(spec_keys(states, queues, names)) do
  for _, id in ipairs(redis.call('ZREVRANGEBYLEX', k, max, '-', 'LIMIT', 0, limit)) do
    if not seen[id] then
      seen[id] = true
      found[#found + 1] = id
    end
  end
end
table.sort(found, function(a, b) return a > b end)
local ids, rows = {}, {}
for x = 1, math.min(limit, #found) do
  ids[x] = found[x]
  if ARGV[4] == '1' then
    rows[x] = redis.call('HGETALL', tkey(found[x]))
  elseif ARGV[4] == '2' then
    local v = redis.call('HMGET', tkey(found[x]), unpack(LISTED))
    local row = {}
    for i, f in ipairs(LISTED) do
      if v[i] then
        row[#row + 1] = f
        row[#row + 1] = v[i]
      end
    end
    rows[x] = row
  end
end
return {us(NOW), ids, rows}
