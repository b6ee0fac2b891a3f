-- workflows (the rules are backends/workflow_params.py's): P:deps:<id> lists the ids a task
-- depends on, in order, P:dependents:<id> those that depend on it, P:wf:<workflow id> the
-- ids of a workflow's tasks; a task's hash keeps waiting_on (dependencies not succeeded
-- yet), blocked_by (the dependency whose failure cancelled it) and workflow_id
local function depskey(id) return P .. ':deps:' .. id end
local function dependentskey(id) return P .. ':dependents:' .. id end
local WF_BLOCKING = {failed = true, cancelled = true}

-- an error's exception line: its last line, without the worker's "[gave up ...]" note
local function error_line(err)
  if not err then return '' end
  local lines = {}
  for line in string.gmatch(err, '[^\n]+') do
    local t = string.match(line, '^%s*(.-)%s*$')
    if t ~= '' then lines[#lines + 1] = t end
  end
  while #lines > 0 and string.match(lines[#lines], '^%[gave up after attempt %d+ of %d+%]$') do
    lines[#lines] = nil
  end
  return lines[#lines] or ''
end

-- the last_error of a task cancelled because its dependency `parent` ended as it did
local function dependency_error(parent_id, p)
  local why = error_line(p.last_error)
  local text = 'dependency ' .. parent_id .. ' (' .. tostring(p.name) .. ') ended ' .. p.state
  if why ~= '' then text = text .. ': ' .. why end
  return text
end

local WF_FIELDS = fields('last_error', 'waiting_on', 'blocked_by')
local function wf_load(id)
  local h = load(id, WF_FIELDS)
  if h then h.waiting_on = tonumber(h.waiting_on) or 0 end
  return h
end

-- count a success down in its dependents; queue those waiting with none left
local function wf_release(id)
  for _, child in ipairs(redis.call('LRANGE', dependentskey(id), 0, -1)) do
    local c = wf_load(child)
    if c then
      local left = redis.call('HINCRBY', tkey(child), 'waiting_on', -1)
      if left <= 0 and c.state == 'waiting' then
        move(child, c, 'queued', {'run_at', us(NOW)}, nil, NOW)
      end
    end
  end
end

-- cancel the waiting dependents of tasks that ended failed or cancelled, and theirs
local function wf_cascade(ids)
  local frontier = ids
  while #frontier > 0 do
    local next_ids = {}
    for _, id in ipairs(frontier) do
      local p = wf_load(id)
      if p then
        for _, child in ipairs(redis.call('LRANGE', dependentskey(id), 0, -1)) do
          local c = wf_load(child)
          if c and c.state == 'waiting' then
            move(child, c, 'cancelled', {'finished_at', us(NOW), 'last_error',
                 dependency_error(id, p), 'blocked_by', id}, nil, NOW)
            next_ids[#next_ids + 1] = child
          end
        end
      end
    end
    frontier = next_ids
  end
end

local function wf_still_blocked(child)
  for _, dep in ipairs(redis.call('LRANGE', depskey(child), 0, -1)) do
    local st = redis.call('HGET', tkey(dep), 'state')
    if st and WF_BLOCKING[st] then return true end
  end
  return false
end

-- bring back the dependents a retried task had blocked (transitively), unless another
-- dependency still blocks them: waiting, or queued with no dependency left
local function wf_restore(id)
  local frontier = {id}
  while #frontier > 0 do
    local next_ids = {}
    for _, parent in ipairs(frontier) do
      for _, child in ipairs(redis.call('LRANGE', dependentskey(parent), 0, -1)) do
        local c = wf_load(child)
        if c and c.state == 'cancelled' and c.blocked_by == parent
            and not wf_still_blocked(child) then
          local to = 'queued'
          if c.waiting_on > 0 then to = 'waiting' end
          move(child, c, to, {'attempts', '0', 'snoozes', '0', 'run_at', us(NOW)},
               {'blocked_by', 'last_error', 'finished_at'}, NOW)
          next_ids[#next_ids + 1] = child
        end
      end
    end
    frontier = next_ids
  end
end
