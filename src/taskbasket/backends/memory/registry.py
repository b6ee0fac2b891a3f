"""The named memory stores of this process: ``memory://NAME`` opens the store NAME here.

A named store is made the first time its URL is opened and kept, with its tasks, until
:func:`drop_store` drops it (closing a backend never drops it: a second Basket or a worker
opened on the same URL later still sees the same tasks). ``memory://`` with no name is
a new private store each time, never kept here.
"""

from __future__ import annotations

import threading

from taskbasket.backends.memory.clock import Clock
from taskbasket.backends.memory.store import MemoryStore
from taskbasket.errors import ConfigurationError

_stores: dict[str, MemoryStore] = {}
_lock = threading.Lock()


def named_store(name: str, clock: Clock | None) -> MemoryStore:
    """The store ``name``, made now (with ``clock``) if it does not exist yet.

    A ``clock`` given for a store that exists must be the clock it was made with.
    """
    with _lock:
        store = _stores.get(name)
        if store is None:
            store = _stores[name] = MemoryStore(clock)
        elif clock is not None and clock is not store.clock:
            raise ConfigurationError(
                f"memory://{name} exists already with another clock; give the same clock "
                f"to every opening of the store, or drop it first with "
                f"taskbasket.backends.memory.drop_store({name!r})"
            )
        return store


def drop_store(name: str) -> bool:
    """Forget the store ``name`` and its tasks; True if it existed. Backends still open on
    it keep working on the dropped data; the next opening of its URL makes a new store."""
    with _lock:
        return _stores.pop(name, None) is not None


def store_names() -> list[str]:
    """The names of the stores this process keeps, sorted."""
    with _lock:
        return sorted(_stores)
