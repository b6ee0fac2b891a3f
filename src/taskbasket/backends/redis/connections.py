"""Connections kept out of redis-py's pool, for the Redis store's script calls.

redis-py sends every command through a pool checkout (which polls the socket first) and
wrappers for retries, metrics and events. On a small script call that costs more than
Redis takes to run it: with redis-py 8.1 a PING costs the client about 75 µs of CPU through
the client object and about 20 µs on a kept connection. Enqueueing a task is one script
call, and so is a claim or a batch of completions, so the store runs its scripts on
connections taken from the pool once and kept.
"""

from __future__ import annotations

import inspect
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

import redis
import redis.exceptions
from redis.commands.core import Script

_pack: Callable[[tuple[Any, ...]], bytes] | None
try:  # what redis-py packs commands with, called directly (its wrapper walks every argument)
    from hiredis import pack_command as _pack
except ImportError:  # pragma: no cover - redis[hiredis] brings it
    _pack = None

# redis-py before 5.3 wants a command name when a connection is taken from the pool
_checkout_name = inspect.signature(redis.ConnectionPool.get_connection).parameters.get(
    "command_name")
_NAMED_CHECKOUT = _checkout_name is not None and _checkout_name.default is inspect.Parameter.empty


class KeptConnections:
    """Connections taken from a redis-py pool once and reused, each by one thread at a time.

    A forked child starts with none of its parent's: it never writes to their sockets.
    ``close`` gives them back to the pool, which closes them with the client.
    """

    def __init__(self, pool: redis.ConnectionPool) -> None:
        self._pool = pool
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def _take(self) -> Any:
        if self._pid != os.getpid():
            # a forked child: never the parent's sockets (nor its lock, held or not)
            self._idle, self._lock, self._pid = [], threading.Lock(), os.getpid()
        with self._lock:
            if self._idle:
                return self._idle.pop()
        if _NAMED_CHECKOUT:
            return self._pool.get_connection("EVALSHA")
        return self._pool.get_connection()

    def evalsha(self, script: Script, args: Sequence[Any]) -> Any:
        """Run ``script`` with ``args`` (no keys) and return its reply.

        A dropped connection is reconnected and the call sent again, as the connection's
        retry policy allows: the script must be safe to run twice. A server that lost its
        scripts (restarted or flushed) is given the script again.
        """
        conn = self._take()

        def send() -> Any:
            if _pack is None:
                conn.send_command("EVALSHA", script.sha, 0, *args)
            else:
                conn.send_packed_command([_pack(("EVALSHA", script.sha, 0, *args))])
            return conn.read_response()

        def attempt() -> Any:
            try:
                return send()
            except redis.exceptions.NoScriptError:
                conn.send_command("SCRIPT", "LOAD", script.script)
                conn.read_response()
                return send()

        in_step = False
        try:
            reply = conn.retry.call_with_retry(attempt, lambda _error: conn.disconnect())
            in_step = True
            return reply
        except redis.exceptions.ResponseError:
            in_step = True  # an error reply, read whole: the connection is in step
            raise
        finally:
            if not in_step or getattr(conn, "should_reconnect", bool)():
                conn.disconnect()  # it reconnects when next used
            with self._lock:
                self._idle.append(conn)

    def close(self) -> None:
        """Give every kept connection back to the pool."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            self._pool.release(conn)
