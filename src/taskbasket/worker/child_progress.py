"""Progress from a handler in a child process (the process executor): the child cannot
reach the store, so ``current_task().progress(...)`` there sends the report to the parent
over the task's pipe, which hands it to the worker's progress writer (fenced and
coalesced as for any other handler).

The child coalesces too, so a tight loop does not flood the pipe: at most one message
every ``CHILD_PROGRESS_INTERVAL`` seconds, and the last report is always sent, before
the task's reply.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

CHILD_PROGRESS_INTERVAL = 0.1
PROGRESS_KIND = "progress"


class ChildProgress:
    """The reporter of one task's context in a child: ``(done, total, note)``."""

    def __init__(self, task_id: str, lease_token: str,
                 send: Callable[[tuple[Any, ...]], None]) -> None:
        self._head = (task_id, lease_token, PROGRESS_KIND)
        self._send = send
        self._pending: tuple[float, float | None, str | None] | None = None
        self._last_sent = 0.0

    def __call__(self, done: float, total: float | None = None, note: str | None = None
                 ) -> None:
        for value in (done, total):
            if value is not None and not math.isfinite(float(value)):
                raise ValueError(f"progress must be finite numbers, got {value!r}")
        self._pending = (float(done), None if total is None else float(total),
                         None if note is None else str(note))
        if time.monotonic() - self._last_sent >= CHILD_PROGRESS_INTERVAL:
            self.flush()

    def flush(self) -> None:
        """Send the report not sent yet, if any."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._last_sent = time.monotonic()
            self._send((*self._head, *pending))


def is_progress(message: tuple[Any, ...]) -> bool:
    """Whether a message from a child is a progress report (not the task's reply)."""
    return len(message) == 6 and message[2] == PROGRESS_KIND


__all__ = ["CHILD_PROGRESS_INTERVAL", "ChildProgress", "is_progress"]
