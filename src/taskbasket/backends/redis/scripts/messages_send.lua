
-- ARGV: P, JSON [id, expected messages or false, new messages or false, wake]. Swaps the
-- messages of a task that is not final if they are still the expected ones; with wake, a
-- scheduled task is made due now (and an idle worker of its queue woken); 1, or 0.
local a = cjson.decode(ARGV[2])
local id, expected, new, wake_it = a[1], a[2], a[3], a[4]
local h = load(id, fields('messages'))
if not h or FINAL[h.state] then return 0 end
if (h.messages or false) ~= expected then return 0 end
local k = tkey(id)
if new then redis.call('HSET', k, 'messages', new) else redis.call('HDEL', k, 'messages') end
if wake_it and h.state == 'scheduled' then
  move(id, h, 'scheduled', {'run_at', us(NOW)}, nil, NOW)
  wake(h.queue)
end
flush()
return 1
