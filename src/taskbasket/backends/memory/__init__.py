"""``memory://``: a store held in this process's memory, for tests and one-process apps.

No file, no server, no migration: the tasks live in dicts and heaps under one lock, so
workers in this process (threads, many of them) share it safely, and every operation has
the semantics of the SQL stores (it passes the whole conformance suite). Other processes
cannot see it, and its tasks are gone when the process ends.

URLs:

- ``memory://`` is a new, private store each time it is opened: a ``Basket("memory://")``
  and the workers it starts (``basket.worker()``) share its one backend, but opening the
  URL again (another Basket, ``taskbasket worker --url memory://``) gives an empty store.
- ``memory://NAME`` is the store NAME, shared by everything in this process that opens
  that URL, so a second Basket or a worker opened by URL sees the same tasks. It is kept
  (closing a backend does not drop it) until :func:`drop_store` ("NAME") forgets it.

The store's clock is its own (``capabilities.server_clock``): this host's clock by default,
or ``clock=`` given as a keyword (``Basket("memory://", clock=FakeClock())``), so that a
test moves time with ``clock.advance(seconds)`` and delays, retry backoffs and leases are
reached at once (advancing wakes the store's idle workers).
"""

from taskbasket.backends.memory.backend import MemoryBackend
from taskbasket.backends.memory.clock import AdvancingClock, Clock, SystemClock
from taskbasket.backends.memory.registry import drop_store, store_names
from taskbasket.backends.memory.store import MemoryStore

__all__ = ["AdvancingClock", "Clock", "MemoryBackend", "MemoryStore", "SystemClock",
           "drop_store", "store_names"]
