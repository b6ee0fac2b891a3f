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

The package, one job per module: ``backend`` (the Backend's methods), ``settings`` (URL and
options), ``keys`` (the key layout), ``scripts`` (the Lua scripts in ``scripts/*.lua``),
``inserts`` (the insert script's arguments), ``reading`` (listing pages), ``filters``,
``records`` and ``times`` (values to and from the store), ``listener`` (wake-ups),
``connections`` (kept connections for script calls) and ``errors``.
"""

from __future__ import annotations

from taskbasket.backends.redis.backend import SCHEMA_VERSION, RedisBackend
from taskbasket.backends.redis.errors import RedisUnavailableError
from taskbasket.backends.redis.listener import RedisListener
from taskbasket.backends.redis.settings import DEFAULT_PREFIX

__all__ = ["DEFAULT_PREFIX", "SCHEMA_VERSION", "RedisBackend", "RedisListener",
           "RedisUnavailableError"]
