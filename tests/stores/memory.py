"""``memory://`` test stores: a new named store per test, dropped afterwards.

A named store (``memory://NAME``) is what every Basket and worker of the test opening
the URL shares; ``drop`` forgets it. Always available: it needs no server.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from taskbasket.backends.memory import drop_store


class MemoryFactory:
    name = "memory"

    def unavailable(self) -> str | None:
        return None

    def create(self, tag: str) -> str:
        return f"memory://{tag}"

    def drop(self, url: str) -> None:
        drop_store(urlsplit(url).netloc)


FACTORY = MemoryFactory()
