"""``isolated(basket)``: point an existing basket (your app's, with its registered tasks,
hooks and middleware) at a fresh ``memory://`` store for a block, then back.

Use it per test, so that no test sees another's tasks and none needs a server. The
store the basket had (opened or not) is left as it was and used again after the block;
the memory store is closed. Do not isolate a basket while a worker of it is running: the
worker keeps the store it started with.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from taskbasket.backends import open_backend

if TYPE_CHECKING:
    from taskbasket.basket import Basket
    from taskbasket.testing.clock import FakeClock


@contextlib.contextmanager
def isolated(basket: Basket, *, clock: FakeClock | None = None) -> Iterator[Basket]:
    """``basket`` on a new, private memory store (on ``clock``, if given) for the block."""
    options: dict[str, Any] = {} if clock is None else {"clock": clock}
    store = open_backend("memory://", **options)
    saved = basket.swap_store("memory://", store)
    try:
        yield basket
    finally:
        basket.swap_store(*saved)
        store.close()


__all__ = ["isolated"]
