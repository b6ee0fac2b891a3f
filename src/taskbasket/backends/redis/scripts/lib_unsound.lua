-- a hash that taskbasket did not write (a field missing, or not a number where one
-- must be): `unsound` says which field is wrong (false if none) of a hash loaded with the
-- fields max_attempts, payload, timeout and created_at as well
local MAX_US = 9999999999999999
local KNOWN = {}
for _, s in ipairs(ALL_STATES) do KNOWN[s] = true end
local function number_in(v, low, high, whole)
  v = tonumber(v)
  return v ~= nil and v == v and v >= low and v <= high and (not whole or v == math.floor(v))
end
local function unsound(id, h)
  local wrong = nil
  if type(h.name) ~= 'string' then wrong = 'name'
  elseif type(h.queue) ~= 'string' then wrong = 'queue'
  elseif type(h.payload) ~= 'string' then wrong = 'payload'
  elseif not number_in(h.priority, -32768, 32767, true) then wrong = 'priority'
  elseif not number_in(h.run_at, 0, MAX_US, true) then wrong = 'run_at'
  elseif not number_in(h.created_at, 0, MAX_US, true) then wrong = 'created_at'
  elseif not number_in(h.attempts, 0, 2147483647, true) then wrong = 'attempts'
  elseif not number_in(h.max_attempts, 1, 2147483647, true) then wrong = 'max_attempts'
  elseif not number_in(h.timeout, 1e-9, 1e15, false) then wrong = 'timeout'
  end
  if not wrong then return false end
  local raw = redis.call('HGET', tkey(id), wrong)
  if raw then return wrong .. ' holds ' .. string.format('%q', string.sub(raw, 1, 80)) end
  return wrong .. ' is missing'
end

