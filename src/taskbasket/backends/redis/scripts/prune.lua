
-- ARGV: P, limit, then state, older than (microseconds) pairs. Deletes up to limit final
-- tasks of those states that finished before then; returns how many.
local limit, n = tonumber(ARGV[2]), 0
for i = 3, #ARGV, 2 do
  local s, cutoff = ARGV[i], NOW - tonumber(ARGV[i + 1])
  while n < limit do
    local ids = redis.call('ZRANGEBYSCORE', donekey(s), '-inf', '(' .. us(cutoff), 'LIMIT',
                           0, limit - n)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      local h = load(id)
      if h and h.state == s then
        remove(id, h)
        n = n + 1
      else
        zrem(donekey(s), id)  -- a leftover entry
      end
    end
    flush_sets()
  end
end
flush()
return n
