-- the writes of a limited claim: if no limited claim ran since flow_read (the flow
-- version is unchanged), claim the chosen tasks still queued and add their start records.
-- ARGV: P, version, worker, lease (microseconds), token, attempts added, id count, ids...,
-- then start records as group, expires (microseconds) pairs. Returns 'conflict', or the
-- claimed tasks as JSON (the claim's rows, with their limit key).
if (redis.call('GET', P .. ':flow:v') or '0') ~= ARGV[2] then return 'conflict' end
redis.call('INCR', P .. ':flow:v')
local worker, expires, token = ARGV[3], NOW + tonumber(ARGV[4]), ARGV[5]
local added, count = tonumber(ARGV[6]), tonumber(ARGV[7])
local extra = fields('max_attempts', 'payload', 'timeout', 'created_at')
local out = {}
for x = 8, 7 + count do
  local id = ARGV[x]
  local h = load(id, extra)
  if h and h.state == 'queued' then out[#out + 1] = take(id, h, added, token, expires, worker) end
end
for x = 8 + count, #ARGV, 2 do
  redis.call('ZADD', P .. ':starts', ARGV[x + 1], ARGV[x] .. '\30' .. token .. '\30' .. x)
end
flush()
if #out == 0 then return '[]' end
return cjson.encode(out)
