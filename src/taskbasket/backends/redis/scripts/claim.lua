
-- ARGV: P, worker_id, limit, lease (microseconds), token, promote batch,
-- attempts added (1, or 0 for the relay), order ('p' priority, 'c' created),
-- queue count (-1: every queue), queues..., names... (none: every name)
local worker, limit = ARGV[2], tonumber(ARGV[3])
local expires, token = NOW + tonumber(ARGV[4]), ARGV[5]
promote(tonumber(ARGV[6]))
local added = tonumber(ARGV[7])
local by_created = ARGV[8] == 'c'
local queues, i = spec_list(9)
local names = nil
for x = i, #ARGV do names = names or {}; names[#names + 1] = ARGV[x] end
-- candidates: the first `limit` members of each pair's ready set (members sort in claim
-- order), or of its index of queued ids (ids sort in enqueue order)
local cands = {}
for _, qn in ipairs(unpaused(known_pairs(queues, names))) do
  local k = by_created and idxkey('queued', qn[1], qn[2]) or readykey(qn[1], qn[2])
  for _, m in ipairs(redis.call('ZRANGE', k, 0, limit - 1)) do
    cands[#cands + 1] = {m, k, qn[1], qn[2]}
  end
end
if #cands > 1 then table.sort(cands, function(a, b) return a[1] < b[1] end) end
local out, bad = {}, {}
local extra = fields('max_attempts', 'payload', 'timeout', 'created_at')
for x = 1, math.min(limit, #cands) do
  local m, k, q, n = cands[x][1], cands[x][2], cands[x][3], cands[x][4]
  local id = by_created and m or string.sub(m, 21)
  local h = load(id, extra)
  -- (a member of a ready set whose hash says a state taskbasket does not know: corrupt)
  local why = h and ((h.state == 'queued' and unsound(id, h))
                     or (not KNOWN[h.state] and 'state holds ' .. string.format('%q', h.state)))
  if why then
    set_aside(id, h, m, k, q, n, why)
    bad[#bad + 1] = {id, why}
  else
    if not h or h.state ~= 'queued'
        or not (by_created or rank(h.priority, h.run_at, id) == m) then
      zrem(k, m)  -- a leftover entry
    end
    if h and h.state == 'queued' then
      out[#out + 1] = take(id, h, added, token, expires, worker)
    end
  end
end
flush()
-- one JSON string (every value a string, or false): far cheaper for the client to read
-- than nested replies; with corrupt tasks set aside, an object that names them too
if #bad > 0 then return cjson.encode({r = out, c = bad}) end
if #out == 0 then return '[]' end
return cjson.encode(out)
