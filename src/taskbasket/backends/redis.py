"""Redis: the multi-host store with the lowest latency, over redis-py and Lua scripts.

Every state change is one Lua script, so it is atomic on the server; Redis's ``TIME`` is the
one clock for leases and schedules. Idle workers block on a wake-up list (``BLPOP``) that
the scripts push to when work becomes ready, so pickup takes about a millisecond.

Durability: Redis keeps tasks in memory. For the promise that nothing is lost, production
servers need ``appendonly yes`` with ``appendfsync everysec`` (at most a second of enqueues
lost if the *server host* crashes) or ``appendfsync always`` (none lost, slower), and
``maxmemory-policy noeviction`` so that Redis never evicts tasks. A server without
persistence (like the one the tests use) loses every task when it restarts.

Redis Cluster is not supported: the scripts touch keys they derive from the prefix. Use one
primary (with replicas and Sentinel for failover if you like).

Layout under the prefix ``P`` (``?prefix=`` in the URL, default ``taskbasket``)::

    P:t:<id>                    hash: the task (times in integer microseconds)
    P:ready:<queue>\\t<name>     ready (queued) tasks, a sorted set in lexical order whose
                                members are <32767 - priority, 4 hex digits><run_at,
                                16 digits><id>: priority desc, then run_at, then id
    P:sched                     scheduled and retrying tasks, scored by run_at
    P:lease                     running tasks, scored by lease expiry
    P:done:<state>              final tasks of one state, scored by finish time
    P:idx:<state>:<queue>\\t<name> ids of the tasks in one state, queue and name (lex);
                                those of ``queued`` are, in id (enqueue) order, what a
                                claim in ClaimOrder.CREATED walks
    P:counts                    hash "<queue>\\t<state>" -> count
    P:unique                    hash unique key -> id of the task that is not final
    P:pairs                     hash "<queue>\\t<name>" -> count: the queues and names in use
    P:wake:<queue>, P:wake-all  wake-up lists for idle workers
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import json
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
import redis.exceptions
from redis.backoff import ExponentialBackoff
from redis.commands.core import Script
from redis.retry import Retry

from taskbasket.backends.base import (
    BackendBase,
    Capabilities,
    ClaimedTask,
    ClaimOrder,
    ClaimParams,
    CountByNameParams,
    ExpiredLease,
    LeaderParams,
    LeaseExtendParams,
    LeasesExpiredParams,
    LeasesRescueParams,
    Listener,
    ListParams,
    NewTask,
    Outcome,
    OutcomeKind,
    PromoteParams,
    PruneParams,
    RescueKind,
    StoredTask,
    TaskFilter,
    redact_url,
    stored_state,
)
from taskbasket.backends.redis_connections import KeptConnections
from taskbasket.backends.rows import (
    claimed_tasks,
    expired_lease,
    lenient,
    state_counts,
    stored_or_corrupt,
)
from taskbasket.errors import (
    BackendUnavailableError,
    ConfigurationError,
    StoreCorruptedError,
    UnsupportedOperationError,
)
from taskbasket.ids import new_token
from taskbasket.task import ALL_STATES, FINAL_STATES, CorruptTask, State, TaskRef

log = logging.getLogger("taskbasket.backends.redis")

DEFAULT_PREFIX = "taskbasket"
SCHEMA_VERSION = 1
WAKE_CAP = 32
"""At most this many wake-up tokens wait in one list (one token wakes one idle worker)."""
PROMOTE_BATCH = 1000
INSERT_CHUNK = 5000
"""At most this many tasks are inserted per script call (a call blocks Redis while it runs;
a bigger batch is several calls in one MULTI, which runs them back to back)."""
OPERATOR_BATCH = 500
PAGE_SIZE = 1000
"""At most this many tasks are read per listing script call, so none blocks Redis long."""
LISTEN_SLICE = 1.0
"""A listener re-checks its closed flag at least this often (seconds)."""

_PREFIX = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_RETRYABLE = frozenset({State.FAILED, State.CANCELLED, State.RETRYING, State.SCHEDULED})
_NOT_FINAL = frozenset(s for s in ALL_STATES if s not in FINAL_STATES)
# redis-py options that may stand in the URL's query, besides our own ``prefix``
_REDIS_QUERY_OPTIONS = frozenset({
    "db", "socket_timeout", "socket_connect_timeout", "socket_read_size", "socket_keepalive",
    "retry_on_timeout", "max_connections", "health_check_interval", "ssl_check_hostname",
    "ssl_min_version", "timeout", "protocol", "client_name", "username", "password",
    "ssl_cert_reqs", "ssl_ca_certs", "ssl_ca_path", "ssl_keyfile", "ssl_certfile",
    "ssl_password",
})
_KEYWORD_OPTIONS = frozenset({
    "prefix", "socket_timeout", "socket_connect_timeout", "max_connections", "client_name",
    "health_check_interval",
})

# --------------------------------------------------------------------------- Lua

# Each script is the parts of this library it uses, then its body: Redis runs a script's
# top level on every call, so a smaller prelude is a faster script.
_BASE = r"""#!lua flags=no-cluster
local P = ARGV[1]
local NOW
do
  local t = redis.call('TIME')
  NOW = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
-- numbers given to redis.call are printed with %.14g: print microseconds ourselves
local function us(x) return string.format('%d', x) end
local FINAL = {succeeded = true, failed = true, cancelled = true}
local ALL_STATES = {'queued', 'scheduled', 'running', 'retrying', 'succeeded', 'failed',
                    'cancelled'}
local SCHED, LEASE, UNIQUE = P .. ':sched', P .. ':lease', P .. ':unique'
local COUNTS, PAIRS = P .. ':counts', P .. ':pairs'
local WAKE_CAP = __WAKE_CAP__
local function tkey(id) return P .. ':t:' .. id end
local function readykey(q, n) return P .. ':ready:' .. q .. '\t' .. n end
local function idxkey(s, q, n) return P .. ':idx:' .. s .. ':' .. q .. '\t' .. n end
local function donekey(s) return P .. ':done:' .. s end
-- ready order: priority desc, then run_at, then id (the member's tail)
local function rank(prio, run_at, id)
  return string.format('%04x%016d', 32767 - prio, run_at) .. id
end

-- the fields every state change needs; a script that needs more passes a list of all it
-- reads, built once per call with fields() (HMGET's reply is most of a claim's cost)
local FIELDS = {'state', 'queue', 'name', 'priority', 'run_at', 'unique_key', 'attempts'}
local function fields(...)
  local names = {}
  for i, f in ipairs(FIELDS) do names[i] = f end
  for _, f in ipairs({...}) do names[#names + 1] = f end
  return names
end
local function load(id, names)
  names = names or FIELDS
  local v = redis.call('HMGET', tkey(id), unpack(names))
  if not v[1] then return nil end
  local h = {}
  for i, f in ipairs(names) do h[f] = v[i] end
  h.priority = tonumber(h.priority)
  h.run_at = tonumber(h.run_at)
  h.attempts = tonumber(h.attempts)
  return h
end

local deltas, wakes, paired = {}, {}, {}
local function bump(q, s, d)
  local f = q .. '\t' .. s
  deltas[f] = (deltas[f] or 0) + d
end
-- PAIRS counts the tasks of each queue and name: the catalog that claims and filters use
local function pair(q, n, d)
  local f = q .. '\t' .. n
  paired[f] = (paired[f] or 0) + d
end
local function wake(q) wakes[q] = (wakes[q] or 0) + 1 end
local function push(k, n)
  if n > WAKE_CAP then n = WAKE_CAP end
  local tokens = {}
  for i = 1, n do tokens[i] = '1' end
  if redis.call('LPUSH', k, unpack(tokens)) > WAKE_CAP then
    redis.call('LTRIM', k, 0, WAKE_CAP - 1)
  end
end
local function add_to(hash, f, d)
  if d ~= 0 and redis.call('HINCRBY', hash, f, us(d)) <= 0 then redis.call('HDEL', hash, f) end
end
-- sorted-set changes wait here, to be sent as one variadic command per key (many times
-- cheaper than one call per task); a script removes before it adds, and never touches one
-- member of one key twice between flushes
local zrems, zadds = {}, {}
local function later(bucket, k, a, b)
  local list = bucket[k]
  if not list then
    list = {}
    bucket[k] = list
  end
  list[#list + 1] = a
  if b then list[#list + 1] = b end
end
local function zrem(k, member) later(zrems, k, member) end
local function zadd(k, score, member) later(zadds, k, score, member) end
local function flush_sets()
  for _, step in ipairs({{'ZREM', zrems}, {'ZADD', zadds}}) do
    for k, list in pairs(step[2]) do
      for from = 1, #list, 4000 do
        redis.call(step[1], k, unpack(list, from, math.min(#list, from + 3999)))
      end
    end
  end
  zrems, zadds = {}, {}
end
local function flush()
  flush_sets()
  for f, d in pairs(deltas) do add_to(COUNTS, f, d) end
  for f, d in pairs(paired) do add_to(PAIRS, f, d) end
  local total = 0
  for q, n in pairs(wakes) do
    push(P .. ':wake:' .. q, n)
    total = total + n
  end
  if total > 0 then push(P .. ':wake-all', total) end
end

"""

_MOVE = r"""-- take a task out of the structure its state keeps it in
local function leave(id, h)
  local s = h.state
  if s == 'queued' then
    zrem(readykey(h.queue, h.name), rank(h.priority, h.run_at, id))
  elseif s == 'scheduled' or s == 'retrying' then
    zrem(SCHED, id)
  elseif s == 'running' then
    zrem(LEASE, id)
  elseif FINAL[s] then
    zrem(donekey(s), id)
  end
end

-- move a loaded task to state `to`: `set` holds field, value pairs to write, `del` fields
-- to remove, `at` the score in the new structure (run_at, lease expiry or finish time)
local function move(id, h, to, set, del, at)
  leave(id, h)
  local k = tkey(id)
  redis.call('HSET', k, 'state', to, unpack(set))
  if del and #del > 0 then redis.call('HDEL', k, unpack(del)) end
  if to == 'queued' then
    zadd(readykey(h.queue, h.name), 0, rank(h.priority, at, id))
    wake(h.queue)
  elseif to == 'scheduled' or to == 'retrying' then
    zadd(SCHED, us(at), id)
  elseif to == 'running' then
    zadd(LEASE, us(at), id)
  else
    zadd(donekey(to), us(at), id)
  end
  if h.unique_key then
    if FINAL[to] and not FINAL[h.state] then
      if redis.call('HGET', UNIQUE, h.unique_key) == id then
        redis.call('HDEL', UNIQUE, h.unique_key)
      end
    elseif FINAL[h.state] and not FINAL[to] then
      redis.call('HSET', UNIQUE, h.unique_key, id)
    end
  end
  if to ~= h.state then
    zrem(idxkey(h.state, h.queue, h.name), id)
    zadd(idxkey(to, h.queue, h.name), 0, id)
    bump(h.queue, h.state, -1)
    bump(h.queue, to, 1)
  end
end

"""

_REMOVE = r"""local function remove(id, h)
  leave(id, h)
  if h.unique_key and not FINAL[h.state]
      and redis.call('HGET', UNIQUE, h.unique_key) == id then
    redis.call('HDEL', UNIQUE, h.unique_key)
  end
  zrem(idxkey(h.state, h.queue, h.name), id)
  bump(h.queue, h.state, -1)
  pair(h.queue, h.name, -1)
  redis.call('DEL', tkey(id))
end

"""

_PROMOTE_LIB = r"""-- scheduled and retrying tasks whose run_at has come become queued
local function promote(max)
  local ids = redis.call('ZRANGEBYSCORE', SCHED, '-inf', us(NOW), 'LIMIT', 0, max)
  local n = 0
  for _, id in ipairs(ids) do
    local h = load(id)
    if h and (h.state == 'scheduled' or h.state == 'retrying') then
      move(id, h, 'queued', {}, nil, h.run_at)
      n = n + 1
    else
      zrem(SCHED, id)
    end
  end
  flush_sets()
  return n
end

"""

_SPEC = r"""
-- a filter spec in ARGV from index i: count, items... (count -1: any) for states,
-- queues and names; returns lists (nil: any) and the next index
local function spec_list(i)
  local n = tonumber(ARGV[i])
  if n < 0 then return nil, i + 1 end
  local list = {}
  for x = 1, n do list[x] = ARGV[i + x] end
  return list, i + n + 1
end
local function read_spec(i)
  local states, queues, names
  states, i = spec_list(i)
  queues, i = spec_list(i)
  names, i = spec_list(i)
  return states, queues, names, i
end
local function as_set(list)
  if not list then return nil end
  local set = {}
  for _, v in ipairs(list) do set[v] = true end
  return set
end
-- the (queue, name) pairs that hold tasks, among the given queues and names (nil: any)
local function known_pairs(queues, names)
  local out = {}
  if queues and names then
    for _, q in ipairs(queues) do
      for _, n in ipairs(names) do out[#out + 1] = {q, n} end
    end
    return out
  end
  local qs, ns = as_set(queues), as_set(names)
  for _, f in ipairs(redis.call('HKEYS', PAIRS)) do
    local tab = string.find(f, '\t', 1, true)
    local q, n = string.sub(f, 1, tab - 1), string.sub(f, tab + 1)
    if (not qs or qs[q]) and (not ns or ns[n]) then out[#out + 1] = {q, n} end
  end
  return out
end
-- the index sets that hold the tasks a spec selects
local function spec_keys(states, queues, names)
  states = states or ALL_STATES
  local keys = {}
  for _, qn in ipairs(known_pairs(queues, names)) do
    for _, s in ipairs(states) do keys[#keys + 1] = idxkey(s, qn[1], qn[2]) end
  end
  return keys
end
"""


def _script(body: str, *parts: str) -> str:
    return "".join((_BASE, *parts)).replace("__WAKE_CAP__", str(WAKE_CAP)) + body


# The insert script stands alone, without _BASE: Redis runs a script's top level on every
# call, and a single enqueue is one call. It keeps the layout of _BASE's helpers (tkey,
# readykey, idxkey, rank, push) and of the counters; change both together.
_INSERT = r"""#!lua flags=no-cluster
-- ARGV: P; k, then k queue, name pairs whose keys to check as well (a batch sent as
-- several calls names every pair of the batch in each call); then groups of tasks that
-- share their options: count, name, queue, priority, max_attempts (both integers),
-- timeout, unique key ('' none), run mode ('a' absolute, 'd' delay), run value
-- (microseconds), then count id, payload pairs. Returns position, id pairs (positions
-- count the call's tasks from 1) for the tasks not added because their unique key is held.
local call, format, P = redis.call, string.format, ARGV[1]
local NOW
do
  local t = call('TIME')
  NOW = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local TASK, READY, IDX = P .. ':t:', P .. ':ready:', P .. ':idx:'
local SCHED, UNIQUE, COUNTS, PAIRS = P .. ':sched', P .. ':unique', P .. ':counts', P .. ':pairs'
local WAKE, WAKE_ALL = P .. ':wake:', P .. ':wake-all'
local size = #ARGV
local function fail(why) error({err = 'ERR taskbasket insert: ' .. why}) end
local function int(x)
  local n = tonumber(x)
  if not n or n ~= math.floor(n) then fail('not an integer: ' .. tostring(x)) end
  return n
end

-- 1. Read and check everything: Redis keeps what a script wrote before an error, so the
-- first write comes after the last step that can fail. Each key (and counter) written
-- later is read once here, where a wrong type fails; so are the arguments.
local read = {}  -- key (or hash and field) -> what reading it first returned
local function check(command, k)
  if read[k] == nil then read[k] = call(command, k) end
end
local function check_counter(hash, f)
  local k = hash .. '\0' .. f
  if read[k] == nil then
    local v = call('HGET', hash, f)
    if v and not string.match(v, '^%-?%d+$') then
      fail('corrupt counter: ' .. hash .. ' holds ' .. f .. ' = ' .. v)
    end
    read[k] = true
  end
end
local function check_pair(q, name, state)
  if state == 'queued' then
    check('ZCARD', READY .. q .. '\t' .. name)
    check('LLEN', WAKE .. q)
    check('LLEN', WAKE_ALL)
  else
    check('ZCARD', SCHED)
  end
  check('ZCARD', IDX .. state .. ':' .. q .. '\t' .. name)
  check_counter(COUNTS, q .. '\t' .. state)
  check_counter(PAIRS, q .. '\t' .. name)
end
-- when the tasks of the group at ARGV index g are due, and so their state
local function due(g)
  local run_at = tonumber(ARGV[g + 8])
  if ARGV[g + 7] == 'd' then run_at = NOW + run_at end
  if run_at <= NOW then return run_at, 'queued' end
  return run_at, 'scheduled'
end
local start = 3 + 2 * int(ARGV[2])
for x = 3, start - 1, 2 do
  check_pair(ARGV[x], ARGV[x + 1], 'queued')
  check_pair(ARGV[x], ARGV[x + 1], 'scheduled')
end
-- the tasks to add: not one whose unique key a task that is not final holds, nor one whose
-- id exists (an insert resent after a dropped connection: done before), nor a second copy
local out, added, holders = {}, {}, {}
local position, i = 0, start
while i <= size do
  local n, prio = int(ARGV[i]), int(ARGV[i + 3])
  int(ARGV[i + 4])
  local first, ukey = i + 9, ARGV[i + 6]
  if n < 1 or prio < -32768 or prio > 32767 or not tonumber(ARGV[i + 5])
      or not tonumber(ARGV[i + 8]) or (ARGV[i + 7] ~= 'a' and ARGV[i + 7] ~= 'd')
      or first + 2 * n - 1 > size then
    fail('malformed arguments at ' .. i)
  end
  local _, state = due(i)
  check_pair(ARGV[i + 2], ARGV[i + 1], state)
  local existing
  if n == 1 then
    existing = call('EXISTS', TASK .. ARGV[first])
  else
    local keys = {}
    for x = 1, n do keys[x] = TASK .. ARGV[first + 2 * x - 2] end
    existing = 0
    for from = 1, n, 4000 do
      existing = existing + call('EXISTS', unpack(keys, from, math.min(n, from + 3999)))
    end
  end
  for x = first, first + 2 * n - 2, 2 do
    local id, holder = ARGV[x], false
    if ukey ~= '' then
      local other = holders[ukey]
      if other then
        if other ~= id then holder = other end
      else
        other = call('HGET', UNIQUE, ukey)
        if other and other ~= id then
          local st = call('HGET', TASK .. other, 'state')
          if st and st ~= 'succeeded' and st ~= 'failed' and st ~= 'cancelled' then
            holder = other
          end
        end
      end
    end
    if holder then
      out[#out + 1] = position + (x - first) / 2 + 1
      out[#out + 1] = holder
    elseif not added[id] and (existing == 0 or call('EXISTS', TASK .. id) == 0) then
      added[id] = x  -- the ARGV index of the copy to add
      if ukey ~= '' then holders[ukey] = id end
    end
  end
  position = position + n
  i = first + 2 * n
end

-- 2. Write: one HSET per task; the sorted sets, counters and wake-ups once per group
local wakes, total = {}, 0
local created = format('%d', NOW)
i = start
while i <= size do
  local n, name, q, prio = tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local maxa, timeout, ukey, first = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], i + 9
  local run_at, state = due(i)
  local at = format('%d', run_at)
  local rank = state == 'queued' and format('%04x%016d', 32767 - tonumber(prio), run_at)
  local members, index, m = {}, {}, 0
  for x = first, first + 2 * n - 2, 2 do
    local id = ARGV[x]
    if added[id] == x then
      if ukey ~= '' then
        call('HSET', TASK .. id, 'name', name, 'queue', q, 'state', state,
             'payload', ARGV[x + 1], 'priority', prio, 'attempts', '0', 'max_attempts', maxa,
             'timeout', timeout, 'created_at', created, 'run_at', at, 'unique_key', ukey)
        call('HSET', UNIQUE, ukey, id)
      else
        call('HSET', TASK .. id, 'name', name, 'queue', q, 'state', state,
             'payload', ARGV[x + 1], 'priority', prio, 'attempts', '0', 'max_attempts', maxa,
             'timeout', timeout, 'created_at', created, 'run_at', at)
      end
      m = m + 2
      if rank then
        members[m - 1], members[m] = '0', rank .. id
      else
        members[m - 1], members[m] = at, id
      end
      index[m - 1], index[m] = '0', id
    end
  end
  if m > 0 then
    local k = SCHED
    if rank then k = READY .. q .. '\t' .. name end
    for from = 1, m, 4000 do call('ZADD', k, unpack(members, from, math.min(m, from + 3999))) end
    k = IDX .. state .. ':' .. q .. '\t' .. name
    for from = 1, m, 4000 do call('ZADD', k, unpack(index, from, math.min(m, from + 3999))) end
    -- (a counter that reaches 0 goes, as everywhere)
    local f = q .. '\t' .. state
    if call('HINCRBY', COUNTS, f, m / 2) <= 0 then call('HDEL', COUNTS, f) end
    f = q .. '\t' .. name
    if call('HINCRBY', PAIRS, f, m / 2) <= 0 then call('HDEL', PAIRS, f) end
    if rank then
      wakes[q] = (wakes[q] or 0) + m / 2
      total = total + m / 2
    end
  end
  i = first + 2 * n
end
-- one token wakes one idle worker; at most WAKE_CAP wait in a list
local function push(k, n)
  n = math.min(n, __WAKE_CAP__ - read[k])
  if n > 0 then
    local tokens = {}
    for x = 1, n do tokens[x] = '1' end
    call('LPUSH', k, unpack(tokens))
  end
end
for q, n in pairs(wakes) do push(WAKE .. q, n) end
if total > 0 then push(WAKE_ALL, total) end
return out
""".replace("__WAKE_CAP__", str(WAKE_CAP))

_UNSOUND = r"""-- a hash that taskbasket did not write (a field missing, or not a number where one
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

"""

_SET_ASIDE = r"""-- a queued hash that is unsound is failed with the reason instead of claimed, so
-- claims go on
local function set_aside(id, h, m, k, q, n, why)
  zrem(k, m)  -- its candidate: a ready set's member, or an id (claims in enqueue order)
  local ready = readykey(q, n)
  if k ~= ready and number_in(h.priority, -32768, 32767, true)
      and number_in(h.run_at, 0, MAX_US, true) then
    zrem(ready, rank(h.priority, h.run_at, id))  -- its ready member too, if it has one
  end
  redis.call('HSET', tkey(id), 'state', 'failed', 'finished_at', us(NOW), 'last_error',
             'StoreCorruptedError: task ' .. id .. ' is corrupt in the store (' .. why ..
             '); it was failed instead of run. Fix its hash and retry it, or delete it')
  redis.call('HDEL', tkey(id), 'lease_token', 'lease_expires_at')
  zadd(donekey('failed'), us(NOW), id)
  zrem(idxkey('queued', q, n), id)
  zadd(idxkey('failed', q, n), 0, id)
  bump(q, 'queued', -1)
  bump(q, 'failed', 1)
  if h.unique_key and redis.call('HGET', UNIQUE, h.unique_key) == id then
    redis.call('HDEL', UNIQUE, h.unique_key)
  end
end

"""

_CLAIM = _script(r"""
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
for _, qn in ipairs(known_pairs(queues, names)) do
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
      local attempts = us(h.attempts + added)
      move(id, h, 'running', {'attempts', attempts, 'lease_token', token,
                              'lease_expires_at', us(expires), 'started_at', us(NOW),
                              'worker_id', worker}, nil, expires)
      out[#out + 1] = {id, h.name, h.queue, h.payload, us(h.priority), attempts,
                       h.max_attempts, h.timeout, h.created_at, us(h.run_at), h.unique_key}
    end
  end
end
flush()
-- one JSON string (every value a string, or false): far cheaper for the client to read
-- than nested replies; with corrupt tasks set aside, an object that names them too
if #bad > 0 then return cjson.encode({r = out, c = bad}) end
if #out == 0 then return '[]' end
return cjson.encode(out)
""", _MOVE, _PROMOTE_LIB, _SPEC, _UNSOUND, _SET_ASIDE)

_EXTEND = _script(r"""
-- ARGV: P, lease (microseconds), then id, token pairs
local expires = us(NOW + tonumber(ARGV[2]))
local out = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local v = redis.call('HMGET', tkey(id), 'state', 'lease_token')
  if v[1] == 'running' and v[2] == token then
    redis.call('HSET', tkey(id), 'lease_expires_at', expires)
    zadd(LEASE, expires, id)
    out[#out + 1] = id
  end
end
flush_sets()
return out
""")

_FINISH = _script(r"""
-- ARGV: P, JSON array of outcomes: [id, token, kind (s, f, r, x; d: succeeded, and
-- deleted), error or false, retry mode ('a' absolute, 'd' delay), retry value
-- (microseconds)]
local out = {}
local names = fields('lease_token')
for _, o in ipairs(cjson.decode(ARGV[2])) do
  local id, token, kind, err, mode, value = o[1], o[2], o[3], o[4], o[5], o[6]
  local h = load(id, names)
  if h and h.state == 'running' and h.lease_token == token and kind == 'd' then
    remove(id, h)
    out[#out + 1] = 1
  elseif h and h.state == 'running' and h.lease_token == token then
    local set, del = {}, {'lease_token', 'lease_expires_at'}
    if kind == 'f' or kind == 'r' then
      if err then
        set = {'last_error', err}
      else
        del[#del + 1] = 'last_error'
      end
    end
    if kind == 's' or kind == 'f' then
      set[#set + 1] = 'finished_at'
      set[#set + 1] = us(NOW)
      local to = 'succeeded'
      if kind == 'f' then to = 'failed' end
      move(id, h, to, set, del, NOW)
    elseif kind == 'r' then
      local at = value
      if mode == 'd' then at = NOW + value end
      set[#set + 1] = 'run_at'
      set[#set + 1] = us(at)
      move(id, h, 'retrying', set, del, at)
      if at <= NOW then wake(h.queue) end
    else
      local attempts = h.attempts - 1
      if attempts < 0 then attempts = 0 end
      move(id, h, 'queued', {'attempts', us(attempts)},
           {'lease_token', 'lease_expires_at', 'started_at', 'worker_id'}, h.run_at)
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
flush()
return out
""", _MOVE, _REMOVE)

_EXPIRED = _script(r"""
-- ARGV: P, limit. Running tasks whose lease expired, longest expired first: id, token,
-- name, queue, attempts, max_attempts as stored, and what is wrong with the hash (false
-- if nothing: the core fails a corrupt one). Leftover entries (no running task) are
-- removed.
local out = {}
local limit = tonumber(ARGV[2])
local names = fields('lease_token', 'max_attempts', 'payload', 'timeout', 'created_at')
while #out < limit do
  local ids = redis.call('ZRANGEBYSCORE', LEASE, '-inf', '(' .. us(NOW), 'LIMIT', 0,
                         limit - #out)
  if #ids == 0 then break end
  local leftovers = 0
  for _, id in ipairs(ids) do
    local h = load(id, names)
    if h and h.state == 'running' then
      local v = redis.call('HMGET', tkey(id), 'attempts', 'max_attempts')
      out[#out + 1] = {id, h.lease_token or '', h.name or '', h.queue or '', v[1] or '',
                       v[2] or '', unsound(id, h)}
    else
      redis.call('ZREM', LEASE, id)
      leftovers = leftovers + 1
    end
  end
  if leftovers == 0 then break end
end
return out
""", _UNSOUND)

_RESCUE = _script(r"""
-- ARGV: P, then per task: id, token, kind ('fail' or 'requeue'), error, delay
-- (microseconds). Applied only while the task runs under that token with its lease
-- expired; returns 1 (applied) or 0 per task. A corrupt hash never stops the batch: its
-- expiry is read from the lease set if the hash holds none, a requeue waits for a
-- priority (0: the next rescue finds it corrupt and fails it), and one without its queue
-- or name is failed in its hash and the lease and done sets only (its index entries and
-- counters name both, so they are left).
local out = {}
local names = fields('lease_token', 'lease_expires_at')
for i = 2, #ARGV, 5 do
  local id, token, kind, err = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local delay = tonumber(ARGV[i + 4])
  local h = load(id, names)
  local expiry = h and (tonumber(h.lease_expires_at)
                        or tonumber(redis.call('ZSCORE', LEASE, id)))
  local placed = h and type(h.queue) == 'string' and type(h.name) == 'string'
  if h and h.state == 'running' and h.lease_token == token and expiry and expiry < NOW
      and (kind == 'fail' or (placed and h.priority)) then
    local del = {'lease_token', 'lease_expires_at'}
    if not placed then
      zrem(LEASE, id)
      redis.call('HSET', tkey(id), 'state', 'failed', 'finished_at', us(NOW), 'last_error', err)
      redis.call('HDEL', tkey(id), unpack(del))
      zadd(donekey('failed'), us(NOW), id)
    elseif kind == 'fail' then
      move(id, h, 'failed', {'finished_at', us(NOW), 'last_error', err}, del, NOW)
    elseif delay > 0 then
      move(id, h, 'retrying', {'run_at', us(NOW + delay), 'last_error', err}, del,
           NOW + delay)
    else
      move(id, h, 'queued', {'run_at', us(NOW), 'last_error', err}, del, NOW)
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
flush()
return out
""", _MOVE)

_PROMOTE = _script(r"""
-- ARGV: P, batch
local n = promote(tonumber(ARGV[2]))
flush()
return n
""", _MOVE, _PROMOTE_LIB)

_LISTED_FIELDS = (
    "name", "queue", "state", "priority", "attempts", "max_attempts", "timeout", "unique_key",
    "last_error", "created_at", "run_at", "started_at", "finished_at", "lease_expires_at",
    "worker_id",
)
"""The task hash fields a listing without payloads reads: all a StoredTask holds but it."""

_LEADER = _script(r"""
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
""")

_PAGE = _script(r"""
-- ARGV: P, before id ('' for none), limit, rows (0: none, 1: whole hashes, 2: hashes
-- without the payload), spec...
-- The ids of the selected tasks below `before`, newest first, and their hashes.
local LISTED = {__LISTED_FIELDS__}
local limit = tonumber(ARGV[3])
local max = '+'
if ARGV[2] ~= '' then max = '(' .. ARGV[2] end
local states, queues, names = read_spec(5)
local found, seen = {}, {}
for _, k in ipairs(spec_keys(states, queues, names)) do
  for _, id in ipairs(redis.call('ZREVRANGEBYLEX', k, max, '-', 'LIMIT', 0, limit)) do
    if not seen[id] then
      seen[id] = true
      found[#found + 1] = id
    end
  end
end
table.sort(found, function(a, b) return a > b end)
local ids, rows = {}, {}
for x = 1, math.min(limit, #found) do
  ids[x] = found[x]
  if ARGV[4] == '1' then
    rows[x] = redis.call('HGETALL', tkey(found[x]))
  elseif ARGV[4] == '2' then
    local v = redis.call('HMGET', tkey(found[x]), unpack(LISTED))
    local row = {}
    for i, f in ipairs(LISTED) do
      if v[i] then
        row[#row + 1] = f
        row[#row + 1] = v[i]
      end
    end
    rows[x] = row
  end
end
return {us(NOW), ids, rows}
""".replace("__LISTED_FIELDS__", ", ".join(f"'{f}'" for f in _LISTED_FIELDS)), _SPEC)

_COUNT_BY_NAME = _script(r"""
-- ARGV: P, states... The number of tasks of each name in those states: name, count pairs.
local counts, order = {}, {}
for _, qn in ipairs(known_pairs(nil, nil)) do
  local n = 0
  for i = 2, #ARGV do n = n + redis.call('ZCARD', idxkey(ARGV[i], qn[1], qn[2])) end
  if n > 0 then
    if not counts[qn[2]] then
      order[#order + 1] = qn[2]
      counts[qn[2]] = 0
    end
    counts[qn[2]] = counts[qn[2]] + n
  end
end
local out = {}
for _, name in ipairs(order) do
  out[#out + 1] = name
  out[#out + 1] = counts[name]
end
return out
""", _SPEC)

_COUNT = _script(r"""
-- ARGV: P, spec... The number of tasks the spec selects.
local states, queues, names = read_spec(2)
if not states and not queues and not names then
  local total = 0
  for _, v in ipairs(redis.call('HVALS', COUNTS)) do total = total + tonumber(v) end
  return total
end
local total = 0
if not names then
  states = states or ALL_STATES
  if not queues then
    local seen = {}
    queues = {}
    for _, qn in ipairs(known_pairs(nil, nil)) do
      if not seen[qn[1]] then
        seen[qn[1]] = true
        queues[#queues + 1] = qn[1]
      end
    end
  end
  for _, q in ipairs(queues) do
    for _, s in ipairs(states) do
      total = total + (tonumber(redis.call('HGET', COUNTS, q .. '\t' .. s)) or 0)
    end
  end
  return total
end
for _, k in ipairs(spec_keys(states, queues, names)) do
  total = total + redis.call('ZCARD', k)
end
return total
""", _SPEC)

_OPERATE = _script(r"""
-- ARGV: P, operation (cancel, retry, delete), finished_before (microseconds, '' none),
-- spec..., ids... Applies the operation to those ids that match; returns how many.
local op = ARGV[2]
local fb = nil
if ARGV[3] ~= '' then fb = NOW - tonumber(ARGV[3]) end
local states, queues, names, i = read_spec(4)
states, queues, names = as_set(states), as_set(queues), as_set(names)
local retryable = {failed = true, cancelled = true, retrying = true, scheduled = true}
local n = 0
local extra = fields('finished_at')
for x = i, #ARGV do
  local id = ARGV[x]
  local h = load(id, extra)
  if h and (not states or states[h.state]) and (not queues or queues[h.queue])
      and (not names or names[h.name])
      and (not fb or (FINAL[h.state] and h.finished_at and tonumber(h.finished_at) < fb)) then
    if op == 'delete' then
      remove(id, h)
      n = n + 1
    elseif op == 'cancel' then
      if not FINAL[h.state] then
        move(id, h, 'cancelled', {'finished_at', us(NOW)},
             {'lease_token', 'lease_expires_at'}, NOW)
        n = n + 1
      end
    elseif op == 'retry' and retryable[h.state] then
      local blocked = false
      if h.unique_key and FINAL[h.state] then
        local other = redis.call('HGET', UNIQUE, h.unique_key)
        if other and other ~= id then
          local st = redis.call('HGET', tkey(other), 'state')
          blocked = st and not FINAL[st]
        end
      end
      if not blocked then
        move(id, h, 'queued', {'attempts', '0', 'run_at', us(NOW)},
             {'finished_at', 'started_at', 'lease_token', 'lease_expires_at'}, NOW)
        n = n + 1
      end
    end
  end
end
flush()
return n
""", _MOVE, _REMOVE, _SPEC)

_PRUNE = _script(r"""
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
""", _MOVE, _REMOVE)

# --------------------------------------------------------------------------- helpers

P = ParamSpec("P")
R = TypeVar("R")


class RedisUnavailableError(BackendUnavailableError, redis.exceptions.ConnectionError):
    """Redis cannot be reached or dropped the connection; a running worker retries."""


_MAX_US = 10**16 - 1  # the ready sets' members hold run_at in 16 digits (until year 2286)


def _us(moment: datetime) -> int:
    return min(_MAX_US, max(0, (moment - _EPOCH) // _MICROSECOND))


def _seconds_us(seconds: float) -> int:
    return min(_MAX_US, max(0, round(seconds * 1_000_000)))


def _insert_args(prefix: str, tasks: Sequence[NewTask], pairs: Sequence[str]) -> list[Any]:
    """The insert script's arguments (see ``_INSERT``). A run of tasks with the same options
    shares one header, so a batch of one task's calls sends little more than ids and
    payloads; values are checked here, before anything is sent."""
    args: list[Any] = [prefix, len(pairs) // 2, *pairs]
    options: tuple[Any, ...] | None = None
    head = 0
    for task in tasks:
        mine = (task.name, task.queue, task.priority, task.max_attempts, task.timeout,
                task.unique_key, task.delay, task.run_at)
        if mine != options:
            if options is not None:
                args[head] = (len(args) - head - 9) // 2
            options, head = mine, len(args)
            if task.run_at is not None:
                mode, value = "a", _us(task.run_at)
            else:
                mode, value = "d", _seconds_us(task.delay)
            args += (0, task.name, task.queue, int(task.priority), int(task.max_attempts),
                     repr(float(task.timeout)), task.unique_key or "", mode, value)
        args += (task.id, task.payload)
    args[head] = (len(args) - head - 9) // 2
    return args


def _datetime(value: Any) -> datetime:
    return _EPOCH + timedelta(microseconds=int(value))


def _optional_datetime(value: Any) -> datetime | None:
    return None if value is None else _datetime(value)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _spec(
    task_filter: TaskFilter, allowed: frozenset[State] | None = None
) -> list[str] | None:
    """The filter's states, queues and names as script arguments; None selects nothing."""
    states: list[str] | None = None
    if task_filter.states is not None:
        states = [State(s).value for s in dict.fromkeys(task_filter.states)]
    restrict = allowed
    if task_filter.finished_before is not None:
        restrict = FINAL_STATES if restrict is None else restrict & FINAL_STATES
    if restrict is not None:
        states = [s.value for s in ALL_STATES if s in restrict and (
            states is None or s.value in states)]
    args: list[str] = []
    for values in (states, task_filter.queues, task_filter.names):
        if values is None:
            args.append("-1")
            continue
        unique = [str(v) for v in dict.fromkeys(values)]
        if not unique:
            return None
        args.append(str(len(unique)))
        args.extend(unique)
    return args


def _matches(row: dict[str, str], task_filter: TaskFilter, now_us: int) -> bool:
    """Whether a stored task (as decoded hash fields) matches a filter."""
    if task_filter.ids is not None and row["id"] not in {str(i) for i in task_filter.ids}:
        return False
    if task_filter.states is not None and row.get("state") not in {
        State(s).value for s in task_filter.states
    }:
        return False
    if task_filter.queues is not None and row.get("queue") not in set(task_filter.queues):
        return False
    if task_filter.names is not None and row.get("name") not in set(task_filter.names):
        return False
    if task_filter.finished_before is not None:
        finished = row.get("finished_at")
        if row.get("state") not in FINAL_STATES or finished is None:
            return False
        if not finished.isdigit():  # a corrupt hash: no time to compare
            return False
        if int(finished) >= now_us - _seconds_us(task_filter.finished_before):
            return False
    return True


def _decode_hash(task_id: str, raw: Any) -> dict[str, str] | None:
    """A task hash (HGETALL reply as a dict or a flat list) as text, or None if gone."""
    if not raw:
        return None
    if isinstance(raw, dict):
        items = list(raw.items())
    else:
        items = list(zip(raw[::2], raw[1::2], strict=True))
    row = {_text(k): _text(v) for k, v in items}
    if "state" not in row:
        return None
    row["id"] = task_id
    return row


def _stored(row: dict[str, str]) -> StoredTask:
    """A task hash as a record; a field that is missing or bad is left as it is stored, for
    ``backends/rows`` to report."""
    get: Callable[[str], Any] = row.get  # a field may be missing: reported, not raised
    return StoredTask(
        id=row["id"], name=get("name"), queue=get("queue"),
        state=stored_state(row["id"], row["state"]), payload=get("payload"),
        priority=lenient(int, get("priority")), attempts=lenient(int, get("attempts")),
        max_attempts=lenient(int, get("max_attempts")),
        timeout=lenient(float, get("timeout")), unique_key=get("unique_key"),
        last_error=get("last_error"), created_at=lenient(_datetime, get("created_at")),
        run_at=lenient(_datetime, get("run_at")),
        started_at=lenient(_optional_datetime, get("started_at")),
        finished_at=lenient(_optional_datetime, get("finished_at")),
        lease_expires_at=lenient(_optional_datetime, get("lease_expires_at")),
        worker_id=get("worker_id"),
    )


def _read_row(row: dict[str, str]) -> StoredTask | CorruptTask:
    return stored_or_corrupt(row.get("id"), lambda: _stored(row))


def _claimed(row: list[Any], token: str) -> ClaimedTask:
    return ClaimedTask(
        id=row[0], name=row[1], queue=row[2], payload=row[3], priority=int(row[4]),
        attempts=int(row[5]), max_attempts=int(row[6]), timeout=float(row[7]),
        lease_token=token, created_at=_datetime(row[8]), run_at=_datetime(row[9]),
        unique_key=row[10] or None,
    )


def _check_database(url: str, path: str) -> None:
    """The URL's path is empty or ``/N``, a database number; anything else is refused
    (redis-py would quietly use database 0 for ``/five``)."""
    number = path[1:] if path.startswith("/") else path
    if number and not number.isdigit():
        raise ConfigurationError(
            f"the Redis URL {redact_url(url)!r} names database {number!r}: the path must be "
            "a database number, e.g. redis://host:6379/0 (or nothing, for database 0)"
        )


def _translated(method: Callable[P, R]) -> Callable[P, R]:
    """Turn redis-py's errors into taskbasket's, naming the server."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        self = cast("RedisBackend", args[0])
        try:
            return method(*args, **kwargs)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            if isinstance(exc, BackendUnavailableError):
                raise
            raise RedisUnavailableError(
                f"Redis at {self.where} is unreachable or dropped the connection "
                f"({type(exc).__name__}: {exc}); check that the server runs and the URL's "
                "host and port are right"
            ) from exc
        except redis.exceptions.ResponseError as exc:
            text = str(exc)
            if "WRONGTYPE" in text:
                raise StoreCorruptedError(
                    f"Redis at {self.where} holds keys under the prefix {self.prefix!r} that "
                    f"taskbasket did not write ({text}); choose another prefix with "
                    "?prefix=NAME in the URL"
                ) from exc
            raise BackendUnavailableError(
                f"Redis at {self.where} refused a command: {text}"
            ) from exc

    return wrapper


# --------------------------------------------------------------------------- listener


class RedisListener:
    """Blocks on the wake-up lists of some queues with ``BLPOP`` on its own connection.

    One token wakes one idle worker. ``close`` pushes to a list only this listener reads,
    so a concurrent ``wait`` returns at once; while Redis is down ``wait`` just sleeps.
    """

    def __init__(self, backend: RedisBackend, keys: list[str]) -> None:
        self._backend = backend
        self._close_key = f"{backend.prefix}:wake-close:{os.urandom(8).hex()}"
        self._keys = [*keys, self._close_key]
        self._client = backend._new_client(listener=True)
        self._closed = threading.Event()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        try:
            while not self._closed.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                try:
                    popped = self._client.blpop(
                        self._keys, timeout=max(0.001, min(remaining, LISTEN_SLICE))
                    )
                except redis.exceptions.RedisError:
                    self._closed.wait(min(max(remaining, 0.0), LISTEN_SLICE))
                    continue
                if popped is None:
                    continue
                key = _text(cast(Sequence[Any], popped)[0])
                return key != self._close_key
            return False
        finally:
            if self._closed.is_set():
                self._client.close()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        with contextlib.suppress(redis.exceptions.RedisError):
            pipe = self._backend._client.pipeline(transaction=False)
            pipe.lpush(self._close_key, "1")
            pipe.pexpire(self._close_key, 60_000)
            pipe.execute()
        with contextlib.suppress(redis.exceptions.RedisError):
            self._client.connection_pool.disconnect(inuse_connections=False)


# --------------------------------------------------------------------------- backend


class RedisBackend(BackendBase):
    """A store in one Redis server (7 or newer) under a key prefix; thread-safe.

    ``redis://[[user]:password@]host[:port][/db][?prefix=NAME&socket_timeout=...]``; the
    query may also hold redis-py's connection options. Transactional enqueue is impossible
    (Redis cannot join the application's SQL transaction).
    """

    capabilities = Capabilities(
        transactional_enqueue=False, server_clock=True, notifications=True, multi_host=True,
        leader_lock=True,
        created_order=True,
    )
    transient_errors = (BackendUnavailableError, OSError, redis.exceptions.ConnectionError,
                        redis.exceptions.TimeoutError)

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ConfigurationError(
                f"not a Redis URL: {redact_url(url)!r} (use redis:// or rediss://)"
            )
        unknown = set(options) - _KEYWORD_OPTIONS
        if unknown:
            raise ConfigurationError(
                f"unknown Redis store option(s) {sorted(unknown)}; the Redis store takes "
                f"{', '.join(sorted(_KEYWORD_OPTIONS))}"
            )
        query = parse_qsl(parts.query, keep_blank_values=True)
        ours = [(k, v) for k, v in query if k == "prefix"]
        rest = [(k, v) for k, v in query if k != "prefix"]
        for key, _ in rest:
            if key not in _REDIS_QUERY_OPTIONS:
                close = difflib.get_close_matches(key, [*_REDIS_QUERY_OPTIONS, "prefix"], 1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigurationError(
                    f"unknown option {key!r} in the Redis URL {redact_url(url)!r}.{hint} "
                    f"Options: prefix and redis-py's {', '.join(sorted(_REDIS_QUERY_OPTIONS))}"
                )
        _check_database(url, parts.path)
        prefix = options.pop("prefix", None)
        if ours:
            if prefix is not None and prefix != ours[-1][1]:
                raise ConfigurationError(
                    f"two key prefixes: {ours[-1][1]!r} in the URL and {prefix!r} as an "
                    "option; give one"
                )
            prefix = ours[-1][1]
        prefix = DEFAULT_PREFIX if prefix is None else prefix
        if not isinstance(prefix, str) or not _PREFIX.match(prefix):
            raise ConfigurationError(
                f"Redis key prefix {prefix!r} is invalid: use 1-200 letters, digits, '_', '.' "
                "or '-' (no ':', so that two prefixes never share keys), e.g. ?prefix=myapp"
            )
        self.prefix = prefix
        try:
            port = parts.port or 6379
        except ValueError as exc:
            raise ConfigurationError(
                f"bad port in the Redis URL {redact_url(url)!r}: {exc}") from exc
        self.where = f"{parts.hostname or 'localhost'}:{port}"
        self._redis_url = urlunsplit(parts._replace(query=urlencode(rest)))
        # the listener blocks in BLPOP for up to LISTEN_SLICE: its reads need a longer timeout
        self._listener_url = urlunsplit(parts._replace(query=urlencode(
            [(k, v) for k, v in rest if k not in ("socket_timeout", "timeout")]
        )))
        self._options = options
        self._client = self._new_client()
        self._listeners: weakref.WeakSet[RedisListener] = weakref.WeakSet()
        register = self._client.register_script
        self._insert: Script = register(_INSERT)
        self._kept = KeptConnections(self._client.connection_pool)  # for scripts
        self._claim: Script = register(_CLAIM)
        self._extend: Script = register(_EXTEND)
        self._finish: Script = register(_FINISH)
        self._expired: Script = register(_EXPIRED)
        self._rescue: Script = register(_RESCUE)
        self._promote: Script = register(_PROMOTE)
        self._leader: Script = register(_LEADER)
        self._page: Script = register(_PAGE)
        self._count: Script = register(_COUNT)
        self._count_by_name: Script = register(_COUNT_BY_NAME)
        self._operate: Script = register(_OPERATE)
        self._prune: Script = register(_PRUNE)

    def _new_client(self, *, listener: bool = False) -> redis.Redis:
        """A client with its own connection pool; one retry covers a connection that the
        server closed (restart, CLIENT KILL) since it was last used."""
        options: dict[str, Any] = {
            "socket_timeout": 10.0, "socket_connect_timeout": 10.0, **self._options,
        }
        if listener:
            options["socket_timeout"] = LISTEN_SLICE + 10.0
        try:
            client = redis.Redis.from_url(
                self._listener_url if listener else self._redis_url,
                retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1,
                            supported_errors=(redis.exceptions.ConnectionError,)),
                decode_responses=False,
                **options,
            )
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"bad Redis URL {redact_url(self.url)!r}: {exc}") from exc
        return client

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # ------------------------------------------------------------------ lifecycle

    @_translated
    def migrate(self) -> None:
        """Redis needs no schema; this records the layout version and refuses a newer one."""
        key = self._key("schema")
        self._client.set(key, SCHEMA_VERSION, nx=True)
        version = int(cast(bytes, self._client.get(key)) or SCHEMA_VERSION)
        if version > SCHEMA_VERSION:
            raise BackendUnavailableError(
                f"Redis prefix {self.prefix!r} at {self.where} holds taskbasket layout "
                f"version {version}, newer than this taskbasket knows ({SCHEMA_VERSION}); "
                "upgrade taskbasket"
            )
        self._check_durability()

    def _check_durability(self) -> None:
        """Log a warning if the server would lose tasks on a restart (CONFIG may be denied)."""
        try:
            config = cast(dict[bytes | str, bytes | str], self._client.config_get("appendonly"))
        except redis.exceptions.ResponseError:
            return
        value = next(iter(config.values()), b"yes")
        if _text(value).lower() != "yes":
            log.warning(
                "Redis at %s runs without appendonly: every task is lost if the server "
                "restarts. For production set appendonly yes and appendfsync everysec "
                "(or always)", self.where,
            )

    def close(self) -> None:
        for listener in list(self._listeners):
            listener.close()
        with contextlib.suppress(redis.exceptions.RedisError):
            self._kept.close()
            self._client.close()

    @_translated
    def now(self) -> datetime:
        seconds, micros = self._client.time()
        return _EPOCH + timedelta(seconds=int(seconds), microseconds=int(micros))

    def _run(self, script: Script, args: Sequence[Any]) -> Any:
        """Run one of the store's scripts with the prefix and ``args``, on a kept
        connection (see :class:`KeptConnections`): claims and completions are as hot as
        inserts."""
        return self._kept.evalsha(script, [self.prefix, *args])

    # ------------------------------------------------------------------ producers

    def _call_insert(self, args: list[Any]) -> Any:
        """Run the insert script once (``args`` start with the prefix). A call sent again
        after a dropped connection is harmless: the script skips the ids it has stored."""
        return self._kept.evalsha(self._insert, args)

    @_translated
    def tasks_insert(self, tasks: Sequence[NewTask], connection: Any = None) -> list[TaskRef]:
        if connection is not None:
            raise UnsupportedOperationError(
                "the Redis store cannot enqueue inside your database transaction "
                "(connection=...): Redis cannot join a SQL transaction. Enqueue after the "
                "transaction commits, or keep tasks in PostgreSQL, MySQL or SQLite for "
                "transactional enqueue"
            )
        if not tasks:
            return []
        try:
            replies = self._insert_calls(tasks)
        except redis.exceptions.ResponseError as exc:
            if "taskbasket insert: corrupt" not in str(exc):
                raise
            raise StoreCorruptedError(
                f"Redis at {self.where} holds a counter under the prefix {self.prefix!r} that "
                f"taskbasket did not write ({exc}); nothing was inserted. Choose another "
                "prefix with ?prefix=NAME in the URL"
            ) from exc
        refs = [TaskRef(task.id, True) for task in tasks]
        for number, reply in enumerate(replies):
            for position, holder in zip(reply[::2], reply[1::2], strict=True):
                index = number * INSERT_CHUNK + int(position) - 1
                refs[index] = TaskRef(_text(holder), False)
        return refs

    def _insert_calls(self, tasks: Sequence[NewTask]) -> list[Any]:
        """Insert the tasks, in one script call or (a batch of more than INSERT_CHUNK)
        several in one MULTI; the replies of the calls, in order."""
        if len(tasks) <= INSERT_CHUNK:
            return [self._call_insert(_insert_args(self.prefix, tasks, ()))]
        # one MULTI: the calls run back to back, and none runs if the connection drops.
        # Each call first checks the keys of every queue and name of the whole batch,
        # so a key that would fail a later call fails the first before it writes.
        pairs = [x for pair in dict.fromkeys((t.queue, t.name) for t in tasks) for x in pair]
        calls = [
            _insert_args(self.prefix, tasks[start:start + INSERT_CHUNK], pairs)
            for start in range(0, len(tasks), INSERT_CHUNK)
        ]
        pipe = self._client.pipeline(transaction=True)
        for args in calls:
            self._insert(args=args, client=pipe)
        return list(pipe.execute())

    # ------------------------------------------------------------------ workers

    @_translated
    def tasks_claim(self, params: ClaimParams) -> list[ClaimedTask]:
        if params.limit <= 0 or (params.names is not None and not params.names):
            return []
        if params.queues is not None and not params.queues:
            return []
        token = new_token()
        if params.queues is None:
            queues = ["-1"]
        else:
            unique = list(dict.fromkeys(params.queues))
            queues = [str(len(unique)), *unique]
        reply = self._run(self._claim, [
            params.worker_id, params.limit, _seconds_us(params.lease_seconds) or 1, token,
            PROMOTE_BATCH, 1 if params.count_attempt else 0,
            "c" if params.order is ClaimOrder.CREATED else "p", *queues,
            *dict.fromkeys(params.names or ()),
        ])
        data = json.loads(_text(reply))
        if isinstance(data, dict):  # corrupt tasks were set aside: failed, not claimed
            for task_id, why in data.get("c") or []:
                log.error("task %s is corrupt in the store and was failed, not run: %s",
                          task_id, why)
            data = data.get("r") or []
        rows: list[list[Any]] = data
        return claimed_tasks(self, token, [
            (r[0], functools.partial(_claimed, r, token)) for r in rows])

    @_translated
    def leases_extend(self, params: LeaseExtendParams) -> set[str]:
        if not params.leases:
            return set()
        args: list[Any] = [_seconds_us(params.lease_seconds) or 1]
        for lease in params.leases:
            args.extend((lease.task_id, lease.token))
        return {_text(i) for i in self._run(self._extend, args)}

    @_translated
    def tasks_finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        kinds = {
            OutcomeKind.SUCCEEDED: "s", OutcomeKind.FAILED: "f", OutcomeKind.RETRY: "r",
            OutcomeKind.RELEASED: "x",
        }
        rows: list[list[Any]] = []
        for outcome in outcomes:
            if outcome.retry_at is not None:
                mode, value = "a", _us(outcome.retry_at)
            else:
                mode, value = "d", _seconds_us(outcome.retry_delay)
            kind = kinds[outcome.kind]
            if outcome.kind is OutcomeKind.SUCCEEDED and outcome.delete_on_success:
                kind = "d"
            rows.append([
                outcome.lease.task_id, outcome.lease.token, kind,
                False if outcome.error is None else outcome.error, mode, value,
            ])
        payload = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
        return [bool(x) for x in self._run(self._finish, [payload])]

    # ------------------------------------------------------------------ maintenance

    @_translated
    def leases_expired(self, params: LeasesExpiredParams) -> list[ExpiredLease]:
        if params.limit <= 0:
            return []
        rows = self._run(self._expired, [params.limit])
        return [expired_lease(*(None if v is None else _text(v) for v in r)) for r in rows]

    @_translated
    def leases_rescue(self, params: LeasesRescueParams) -> list[bool]:
        if not params.rescues:
            return []
        args: list[Any] = []
        for rescue in params.rescues:
            delay = _seconds_us(rescue.delay) if rescue.kind is RescueKind.REQUEUE else 0
            args.extend((rescue.lease.task_id, rescue.lease.token, rescue.kind.value,
                         rescue.error, delay))
        return [bool(x) for x in self._run(self._rescue, args)]

    @_translated
    def tasks_promote(self, params: PromoteParams) -> int:
        if params.limit <= 0:
            return 0
        return int(self._run(self._promote, [params.limit]))

    @_translated
    def tasks_prune(self, params: PruneParams) -> int:
        args: list[Any] = [max(0, params.limit)]
        for state, age in params.older_than.items():
            if state in FINAL_STATES:
                args.extend((State(state).value, _seconds_us(float(age))))
        if len(args) == 1 or params.limit <= 0:
            return 0
        return int(self._run(self._prune, args))

    @_translated
    def leader_try(self, params: LeaderParams) -> bool:
        ttl = max(1, round(params.ttl * 1000))
        return bool(self._run(self._leader, [params.name, params.holder, ttl]))

    @_translated
    def leader_resign(self, params: LeaderParams) -> None:
        self._run(self._leader, [params.name, params.holder, 0])

    def listener(self, queues: Sequence[str] | None) -> Listener:
        if queues is None:
            keys = [self._key("wake-all")]
        else:
            keys = [self._key("wake", q) for q in dict.fromkeys(queues)]
        listener = RedisListener(self, keys)
        self._listeners.add(listener)
        return listener

    # ------------------------------------------------------------------ inspection

    @_translated
    def tasks_get(self, task_id: str) -> StoredTask | CorruptTask | None:
        row = _decode_hash(task_id, self._client.hgetall(self._key("t", task_id)))
        return None if row is None else _read_row(row)

    def _rows(self, ids: Sequence[str], with_payload: bool = True) -> list[dict[str, str]]:
        pipe = self._client.pipeline(transaction=False)
        for task_id in ids:
            if with_payload:
                pipe.hgetall(self._key("t", task_id))
            else:
                pipe.hmget(self._key("t", task_id), _LISTED_FIELDS)
        rows = []
        for task_id, raw in zip(ids, pipe.execute(), strict=True):
            if not with_payload:
                raw = [item for field, value in zip(_LISTED_FIELDS, raw, strict=True)
                       if value is not None for item in (field, value)]
            row = _decode_hash(task_id, raw)
            if row is not None:
                row.setdefault("payload", "")
                rows.append(row)
        return rows

    def _server_us(self) -> int:
        seconds, micros = self._client.time()
        return int(seconds) * 1_000_000 + int(micros)

    def _pages(
        self, spec: list[str], before: str | None, size: int, with_rows: bool,
        with_payload: bool = True,
    ) -> Iterator[tuple[int, list[str], list[dict[str, str]]]]:
        """Pages of the ids a spec selects, newest first (each read atomically)."""
        cursor = before or ""
        rows_mode = ("1" if with_payload else "2") if with_rows else "0"
        while True:
            now, raw_ids, raw_rows = self._run(self._page, [cursor, size, rows_mode, *spec])
            ids = [_text(i) for i in raw_ids]
            if not ids:
                return
            rows: list[dict[str, str]] = []
            if with_rows:
                for task_id, raw in zip(ids, raw_rows, strict=True):
                    row = _decode_hash(task_id, raw)
                    if row is not None:
                        row.setdefault("payload", "")
                        rows.append(row)
            yield int(now), ids, rows
            cursor = ids[-1]

    @_translated
    def tasks_list(self, params: ListParams) -> list[StoredTask | CorruptTask]:
        task_filter, limit = params.filter, params.limit
        if limit <= 0:
            return []
        found: list[StoredTask | CorruptTask] = []
        if task_filter.ids is not None:
            ids = sorted({str(i) for i in task_filter.ids}, reverse=True)
            if params.before_id is not None:
                ids = [i for i in ids if i < params.before_id]
            now = self._server_us() if task_filter.finished_before is not None else 0
            for start in range(0, len(ids), 500):
                for row in self._rows(ids[start:start + 500], params.with_payload):
                    if _matches(row, task_filter, now):
                        found.append(_read_row(row))
                        if len(found) >= limit:
                            return found
            return found
        spec = _spec(task_filter)
        if spec is None:
            return []
        size = min(limit, PAGE_SIZE)
        for now, _, rows in self._pages(spec, params.before_id, size, with_rows=True,
                                        with_payload=params.with_payload):
            for row in rows:
                if _matches(row, task_filter, now):
                    found.append(_read_row(row))
                    if len(found) >= limit:
                        return found
        return found

    @_translated
    def tasks_count(self, task_filter: TaskFilter) -> int:
        if task_filter.ids is not None:
            ids = sorted({str(i) for i in task_filter.ids})
            now = self._server_us() if task_filter.finished_before is not None else 0
            total = 0
            for start in range(0, len(ids), 500):
                total += sum(
                    1 for row in self._rows(ids[start:start + 500], with_payload=False)
                    if _matches(row, task_filter, now)
                )
            return total
        spec = _spec(task_filter)
        if spec is None:
            return 0
        if task_filter.finished_before is None:
            return int(self._run(self._count, spec))
        if task_filter.queues is None and task_filter.names is None:
            # final tasks by finish time: one ZCOUNT per state
            cutoff = self._server_us() - _seconds_us(task_filter.finished_before)
            states = [s for s in ALL_STATES if s in FINAL_STATES and (
                task_filter.states is None or s in set(task_filter.states))]
            pipe = self._client.pipeline(transaction=True)
            for state in states:
                pipe.zcount(self._key("done", state.value), "-inf", f"({cutoff}")
            return sum(int(n) for n in pipe.execute())
        return sum(
            1 for now, _, rows in self._pages(spec, None, PAGE_SIZE, with_rows=True,
                                              with_payload=False)
            for row in rows if _matches(row, task_filter, now)
        )

    @_translated
    def tasks_stats(self) -> dict[tuple[str, State], int]:
        counts = cast(dict[bytes, bytes], self._client.hgetall(self._key("counts")))
        rows = []
        for field, value in counts.items():
            count = int(value)
            if count:
                queue, _, state = _text(field).rpartition("\t")
                rows.append((queue, state, count))
        return state_counts(rows)

    @_translated
    def tasks_count_by_name(self, params: CountByNameParams) -> dict[str, int]:
        if not params.states:
            return {}
        flat = self._run(self._count_by_name, [State(s).value for s in params.states])
        return {_text(name): int(count) for name, count in zip(flat[::2], flat[1::2],
                                                                  strict=True)}

    # ------------------------------------------------------------------ operators

    def _operate_on(
        self, operation: str, task_filter: TaskFilter, allowed: frozenset[State] | None
    ) -> int:
        """Apply an operator action in batches of ids, each batch one atomic script."""
        spec = _spec(task_filter, allowed)
        if spec is None:
            return 0
        finished_before = (
            "" if task_filter.finished_before is None
            else str(_seconds_us(task_filter.finished_before))
        )
        head = [operation, finished_before, *spec]
        total = 0
        if task_filter.ids is not None:
            ids = sorted({str(i) for i in task_filter.ids}, reverse=True)
            for start in range(0, len(ids), OPERATOR_BATCH):
                total += int(self._run(
                    self._operate, [*head, *ids[start:start + OPERATOR_BATCH]]
                ))
            return total
        for _, ids, _ in self._pages(spec, None, OPERATOR_BATCH, with_rows=False):
            total += int(self._run(self._operate, [*head, *ids]))
        return total

    @_translated
    def tasks_retry(self, task_filter: TaskFilter) -> int:
        return self._operate_on("retry", task_filter, _RETRYABLE)

    @_translated
    def tasks_cancel(self, task_filter: TaskFilter) -> int:
        return self._operate_on("cancel", task_filter, _NOT_FINAL)

    @_translated
    def tasks_delete(self, task_filter: TaskFilter) -> int:
        return self._operate_on("delete", task_filter, None)


__all__ = ["DEFAULT_PREFIX", "RedisBackend", "RedisListener", "RedisUnavailableError"]
