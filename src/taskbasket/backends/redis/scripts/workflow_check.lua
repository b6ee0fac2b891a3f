-- the insert of a workflow's tasks: the insert script's ARGV, then one more: a JSON array
-- of [id, [dependency ids], workflow id or false] per task of the batch. First every
-- dependency is checked (stored, or earlier in the batch), before anything is written
local WF = cjson.decode(table.remove(ARGV))
do
  local batch = {}
  for _, t in ipairs(WF) do
    for _, dep in ipairs(t[2]) do
      if not batch[dep] and redis.call('EXISTS', tkey(dep)) == 0 then
        error({err = 'ERR taskbasket workflow: unknown dependency ' .. t[1] .. ' ' .. dep})
      end
    end
    batch[t[1]] = true
  end
end
