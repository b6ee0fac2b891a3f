"""The leases a NATS worker holds, and the one rule that tells a current one from a stale.

JetStream takes any acknowledgement of a message, even from a delivery whose AckWait ran
out and whose message went to another worker: it acks (or extends) the new delivery. So
the worker fences itself. A delivery is held from when this client read it, or from when
it sent an ``in_progress`` that the server confirmed in time, for the consumer's AckWait
cut short by a margin; and only until a newer delivery of the same stream message
reaches this worker. Past that, its outcome is refused and its heartbeat omitted.

The trade-off: this rests on the worker's monotonic clock running at the server's pace,
on every worker of a queue setting the same AckWait (``--visibility-timeout``), and on
reading a message and recording an outcome each taking less than the margin. A lease
judged stale a little early only makes the task run again (at-least-once).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from nats.aio.msg import Msg

from taskbasket.backends.base import Lease
from taskbasket.backends.bus.message import TaskMessage

FENCE_MARGIN = 0.1
"""The share of AckWait (at most ``FENCE_MARGIN_MAX`` seconds) a lease is cut short by:
it covers the moments between the server starting AckWait and this client reading the
message, and the time recording an outcome takes."""
FENCE_MARGIN_MAX = 1.0


def lease_ends(since: float, ack_wait: float) -> float:
    """When a delivery whose AckWait (re)started at ``since`` stops being held (monotonic)."""
    return since + ack_wait - min(ack_wait * FENCE_MARGIN, FENCE_MARGIN_MAX)


@dataclass(eq=False)
class HeldDelivery:
    """A delivery this worker claimed, held while ``lease_ends(since, AckWait)`` is ahead."""

    msg: Msg
    message: TaskMessage
    attempts: int
    queue: str
    since: float
    """``time.monotonic()`` when the server (re)started its AckWait, at the latest: when
    this worker read the message, or sent an ``in_progress`` the server confirmed in time."""

    @property
    def token(self) -> str:
        """The lease token: the delivery's reply subject, new in every delivery."""
        return self.msg.reply

    @property
    def sequence(self) -> int:
        """The message's stream sequence: the same in every delivery of it."""
        return int(self.msg.metadata.sequence.stream)


class DeliveryLeases:
    """The deliveries a worker holds, by lease token (thread-safe).

    ``ack_wait`` gives the AckWait of a queue's consumer as this worker set it.
    """

    def __init__(self, ack_wait: Callable[[str], float]) -> None:
        self._ack_wait = ack_wait
        self._held: dict[str, HeldDelivery] = {}
        self._lock = threading.Lock()

    def lapsed(self, queue: str, since: float) -> bool:
        """True if a delivery of ``queue`` read at ``since`` may no longer be held."""
        return time.monotonic() >= lease_ends(since, self._ack_wait(queue))

    def hold(self, held: HeldDelivery) -> None:
        """Hold a new delivery; it ends every older delivery of its message held here."""
        with self._lock:
            for token in [t for t, h in self._held.items() if h.sequence == held.sequence]:
                del self._held[token]
            self._held[held.token] = held

    def holding(self, lease: Lease) -> HeldDelivery | None:
        """The delivery ``lease`` names if it is still held, else None (and it is
        forgotten): the one place where a NATS lease is judged current or stale."""
        with self._lock:
            held = self._held.get(lease.token)
            if held is None or held.message.id != lease.task_id:
                return None
            if self.lapsed(held.queue, held.since):
                del self._held[lease.token]
                return None
            return held

    def extended(self, held: HeldDelivery, sent: float, confirmed: float) -> bool:
        """Record an ``in_progress`` sent at ``sent`` and confirmed by the server (a flush)
        at ``confirmed``: the lease runs again from ``sent`` if it was still held when
        the server confirmed, else it is lost (the server may have redelivered it)."""
        with self._lock:
            if self._held.get(held.token) is not held:
                return False  # finished or superseded meanwhile
            if confirmed >= lease_ends(held.since, self._ack_wait(held.queue)):
                del self._held[held.token]
                return False
            held.since = sent
            return True

    def forget(self, held: HeldDelivery) -> None:
        """Stop holding ``held`` (its outcome was recorded)."""
        with self._lock:
            if self._held.get(held.token) is held:
                del self._held[held.token]
