
-- ARGV: P, name, holder, ttl (milliseconds; 0 resigns). 1 if holder leads now, else 0.
local k = P .. ':leader:' .. ARGV[2]
local holder, ttl = ARGV[3], tonumber(ARGV[4])
local current = redis.call('GET', k)
if ttl <= 0 then
  if current == holder then redis.call('DEL', k) end
  return 0
end
if current and current ~= holder then return 0 end
redis.call('SET', k, holder, 'PX', ttl)
return 1
