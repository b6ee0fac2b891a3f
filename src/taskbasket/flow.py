"""The flow-control methods of the Basket: pause and resume queues, set a queue's limits,
and list queues with their settings and task counts (docs/flow-control.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from taskbasket.backends.flow_params import (
    QueueUpdateParams,
    StoredQueue,
    check_concurrency,
    parse_rate,
)
from taskbasket.task import State
from taskbasket.validation import check_name

if TYPE_CHECKING:
    from taskbasket.backends.base import Backend
    from taskbasket.basket import Basket

_KEEP: Any = object()


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue: whether it is paused, its limits (None: none), and its tasks per state."""

    name: str
    paused: bool
    concurrency: int | None
    rate_limit: str | None
    counts: dict[State, int] = field(default_factory=dict)

    def count(self, state: State) -> int:
        return self.counts.get(state, 0)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "paused": self.paused, "concurrency": self.concurrency,
                "rate_limit": self.rate_limit,
                "counts": {state.value: self.count(state) for state in State}}


def refuse_without_flow_control(backend: Backend) -> None:
    """UnsupportedOperationError naming the transport, if ``backend`` cannot pause or
    limit (a message bus, a file transport)."""
    if not backend.capabilities.flow_control:
        raise backend.flow_unsupported()  # type: ignore[attr-defined]


def list_queues(backend: Backend) -> list[QueueInfo]:
    """Every queue that has settings or tasks, by name."""
    stored = {queue.name: queue for queue in backend.queues_list()}
    counts: dict[str, dict[State, int]] = {}
    for (queue, state), count in backend.tasks_stats().items():
        counts.setdefault(queue, {})[state] = count
    return [
        QueueInfo(name, queue.paused, queue.concurrency, queue.rate_limit,
                  counts.get(name, {}))
        for name in sorted(set(stored) | set(counts))
        for queue in [stored.get(name, StoredQueue(name))]
    ]


class FlowControl:
    """The Basket's flow-control methods (mixed into :class:`taskbasket.Basket`)."""

    def _flow_backend(self) -> Backend:
        from taskbasket.basket import Basket

        assert isinstance(self, Basket)
        basket: Basket = self
        refuse_without_flow_control(basket.backend)
        return basket.backend

    def pause_queue(self, name: str) -> None:
        """Pause queue ``name``: no worker claims its tasks (running ones finish) until
        ``resume_queue``. Durable, and checked by every claim; a queue need not exist."""
        self._flow_backend().queues_update(
            QueueUpdateParams(check_name("queue", name), {"paused": True}))

    def resume_queue(self, name: str) -> None:
        """Resume queue ``name``: workers claim its tasks again (within a poll)."""
        self._flow_backend().queues_update(
            QueueUpdateParams(check_name("queue", name), {"paused": False}))

    def configure_queue(self, name: str, *, concurrency: int | None = _KEEP,
                        rate_limit: str | None = _KEEP) -> None:
        """Set queue ``name``'s limits across every worker: at most ``concurrency`` of its
        tasks running at once, at most ``rate_limit`` starts ("10/s", "100/m", "1000/h").
        None lifts a limit; a limit not given stays as it is. Workers apply a change
        within a second."""
        changes: dict[str, Any] = {}
        if concurrency is not _KEEP:
            changes["concurrency"] = check_concurrency("concurrency", concurrency)
        if rate_limit is not _KEEP:
            rate = parse_rate("rate_limit", rate_limit)
            changes["rate_limit"] = None if rate is None else str(rate)
        backend = self._flow_backend()
        check_name("queue", name)
        if changes:
            backend.queues_update(QueueUpdateParams(name, changes))

    def queues(self) -> list[QueueInfo]:
        """Every queue with settings or tasks: paused, limits, and counts by state."""
        from taskbasket.basket import Basket

        assert isinstance(self, Basket)
        return list_queues(self.backend)
