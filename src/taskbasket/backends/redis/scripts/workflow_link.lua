-- after the insert (its reply `out` lists position, holder pairs of the tasks a unique key
-- kept out): each new task joins its workflow, keeps its edges, and waits (or is
-- cancelled after a dependency that already ended failed or cancelled). A call sent again
-- after a dropped connection links nothing twice: a linked task has its edges already
local holders = {}
for x = 1, #out, 2 do holders[WF[tonumber(out[x])][1]] = out[x + 1] end
for _, t in ipairs(WF) do
  local id, deps, wid = t[1], t[2], t[3]
  if not holders[id] and redis.call('EXISTS', depskey(id)) == 0 then
    if wid then
      redis.call('HSET', tkey(id), 'workflow_id', wid)
      redis.call('ZADD', P .. ':wf:' .. wid, 0, id)
    end
    if #deps > 0 then
      local pending, blocker, blocker_hash = 0, nil, nil
      local seen = {}
      for _, dep in ipairs(deps) do
        dep = holders[dep] or dep
        if not seen[dep] then
          seen[dep] = true
          redis.call('RPUSH', depskey(id), dep)
          redis.call('RPUSH', dependentskey(dep), id)
          local p = wf_load(dep)
          if p.state ~= 'succeeded' then pending = pending + 1 end
          if not blocker and WF_BLOCKING[p.state] then blocker, blocker_hash = dep, p end
        end
      end
      local h = wf_load(id)
      if blocker then
        move(id, h, 'cancelled', {'finished_at', us(NOW), 'waiting_on', us(pending),
             'blocked_by', blocker, 'last_error', dependency_error(blocker, blocker_hash)},
             nil, NOW)
      elseif pending > 0 then
        move(id, h, 'waiting', {'waiting_on', us(pending)}, nil, NOW)
      end
    end
  end
end
flush()
return out
