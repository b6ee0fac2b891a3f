"""Progress reports of running handlers, coalesced on their way to the store.

``current_task().progress(done, total, note)`` hands a report to :class:`ProgressWriter`,
which keeps only the latest per lease and writes at most one every ``interval`` seconds per
task (fenced by the lease: a stale attempt writes nothing), so a tight loop that reports
costs the store a few writes a second. The latest report is always written: by the next
flush, or by ``flush(lease)`` before the attempt's outcome is recorded.
"""

from __future__ import annotations

import logging
import threading
import time

from taskbasket.backends.base import Backend, Lease, ProgressParams
from taskbasket.results import encode_progress

log = logging.getLogger("taskbasket.worker")

PROGRESS_INTERVAL = 0.25
"""A task's progress is written at most once per this many seconds."""


class ProgressWriter:
    """The latest unwritten report per lease, and the thread that writes them."""

    def __init__(self, backend: Backend, interval: float = PROGRESS_INTERVAL) -> None:
        self._backend = backend
        self._interval = interval
        self._pending: dict[Lease, str] = {}
        self._written: dict[Lease, float] = {}
        self._writing: set[Lease] = set()
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def report(self, lease: Lease, done: float, total: float | None = None,
               note: str | None = None) -> None:
        """Keep this report as the lease's latest; ValueError for a malformed one."""
        text = encode_progress(done, total, note)
        with self._lock:
            if self._closed:
                return
            self._pending[lease] = text
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._main, name="taskbasket-progress", daemon=True)
                self._thread.start()
            self._lock.notify_all()

    def flush(self, lease: Lease) -> None:
        """Write the lease's latest report now, if one is waiting (the attempt ends)."""
        with self._lock:
            self._lock.wait_for(lambda: lease not in self._writing, 5.0)
            text = self._pending.pop(lease, None)
            self._written.pop(lease, None)
        if text is not None:
            self._write(lease, text)

    def _due(self) -> tuple[list[tuple[Lease, str]], float]:
        """The reports to write now, and how long until the next is due; lock held."""
        now, due, wait = time.monotonic(), [], self._interval
        for lease, text in list(self._pending.items()):
            left = self._written.get(lease, 0.0) + self._interval - now
            if left <= 0:
                due.append((lease, text))
                self._writing.add(lease)
                del self._pending[lease]
                self._written[lease] = now
            else:
                wait = min(wait, left)
        return due, wait

    def _main(self) -> None:
        while True:
            with self._lock:
                due, wait = self._due()
                if not due:
                    if self._closed:
                        return
                    self._lock.wait(wait if self._pending else None)
                    continue
            for lease, text in due:
                self._write(lease, text)
            with self._lock:
                self._writing.difference_update(lease for lease, _ in due)
                self._lock.notify_all()

    def _write(self, lease: Lease, text: str) -> None:
        try:
            self._backend.tasks_progress(ProgressParams(lease, text))
        except Exception as exc:  # progress is advisory: never fail the attempt for it
            log.warning("progress of task %s not recorded: %s", lease.task_id, exc)

    def close(self) -> None:
        """Write what is waiting and stop the thread."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(5)


__all__ = ["PROGRESS_INTERVAL", "ProgressWriter"]
