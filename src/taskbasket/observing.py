"""The Basket's methods that tell what its workers are doing: ``workers()`` (the worker
registry, :mod:`taskbasket.workers`) and ``explain(task_id)`` (why a task is not running,
:mod:`taskbasket.explanation`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskbasket.explanation import Explanation, explain
from taskbasket.workers import WorkerInfo, list_workers

if TYPE_CHECKING:
    from taskbasket.backends.base import Backend


class Observing:
    """Mixed into :class:`taskbasket.Basket`."""

    @property
    def _store(self) -> Backend:
        from taskbasket.basket import Basket

        assert isinstance(self, Basket)
        return self.backend

    def workers(self) -> list[WorkerInfo]:
        """The workers of this basket's store, by id, each as its latest heartbeat
        described it; a worker unseen for three heartbeat intervals shows ``gone=True``
        and its row is deleted after an hour (see :mod:`taskbasket.workers`). A graceful
        stop deletes the row at once. UnsupportedOperationError, naming the transport, on
        a message bus or a line transport."""
        return list_workers(self._store)

    def explain(self, task_id: str) -> Explanation:
        """Why task ``task_id`` is not running now, in words (``str()`` of the answer),
        with structured fields: see :class:`~taskbasket.explanation.Explanation`."""
        from taskbasket.basket import Basket

        assert isinstance(self, Basket)
        limits = {name: definition.flow.limit for name, definition in self.registry.items()
                  if definition.flow.limit.binds}
        return explain(self._store, task_id, task_limits=limits)
