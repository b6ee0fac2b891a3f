"""A listener of a memory store: an idle worker waits on the store's condition, which
inserts, finished attempts, requeues and a test clock's ``advance`` notify."""

from __future__ import annotations

from taskbasket.backends.memory.store import MemoryStore


class MemoryListener:
    """Wakes when the store's ``generation`` moves on from the one this listener saw last,
    so a notification between two waits is not missed."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._closed = False
        with store.condition:
            self._seen = store.generation

    def wait(self, timeout: float) -> bool:
        store = self._store
        with store.condition:
            woken = store.condition.wait_for(
                lambda: self._closed or store.generation != self._seen, max(0.0, timeout))
            self._seen = store.generation
            return bool(woken) and not self._closed

    def close(self) -> None:
        with self._store.condition:
            self._closed = True
            self._store.condition.notify_all()
