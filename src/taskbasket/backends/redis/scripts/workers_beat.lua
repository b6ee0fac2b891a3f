#!lua flags=no-cluster
-- ARGV: P, worker id, info. Writes the worker's row: its info, last_seen_at now (the
-- server's TIME, microseconds), started_at now if the row is new.
local P, id = ARGV[1], ARGV[2]
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
redis.call('HSET', P .. ':workers', id, ARGV[3])
redis.call('HSETNX', P .. ':workers:started', id, now)
redis.call('ZADD', P .. ':workers:seen', now, id)
return 1
