"""What a worker does before its first claim: say which store it uses, reach it (waiting
for it when asked), and warn about waiting tasks that none of its handlers knows."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from taskbasket.backends.base import Backend, TaskFilter, redact_url
from taskbasket.errors import BackendUnavailableError, UnsupportedOperationError
from taskbasket.task import PENDING_STATES

if TYPE_CHECKING:
    from taskbasket.basket import Basket

log = logging.getLogger("taskbasket.worker")

UNKNOWN_SAMPLE = 1000
"""How many waiting tasks the start-up check reads to name the unknown ones."""


def store_description(backend: Backend) -> str:
    """The store for a log line: its URL without passwords, and a SQLite file's absolute
    path (a relative ``sqlite:///tasks.db`` depends on the working directory)."""
    from taskbasket.backends.sqlite import SQLiteBackend

    shown = redact_url(backend.url)
    if isinstance(backend, SQLiteBackend):
        shown += f" (the file {backend.path})"
    return shown


def reach_store(
    backend: Backend, worker_id: str, wait_for_store: float, stopping: threading.Event
) -> bool:
    """Log the store, then migrate it (which reaches it). An unreachable store is tried
    again with backoff for up to ``wait_for_store`` seconds (0: not at all); then the
    worker does not start. False if ``stopping`` was set while waiting."""
    where = store_description(backend)
    log.info("worker %s uses the store %s", worker_id, where)
    deadline = time.monotonic() + wait_for_store
    tries = 0
    while True:
        try:
            backend.migrate()
            if tries:
                log.info("worker %s: the store answers after %d tries", worker_id, tries + 1)
            return True
        except BackendUnavailableError as exc:
            tries += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _not_reached(exc, wait_for_store) from exc
            if tries == 1:
                log.warning("the store %s does not answer (%s); waiting up to %gs for it",
                            where, exc, wait_for_store)
            if stopping.wait(min(remaining, 0.1 * 2 ** min(tries, 6))):
                return False


def _not_reached(exc: BackendUnavailableError, waited: float) -> BackendUnavailableError:
    if waited:
        return BackendUnavailableError(
            f"{exc}. The store did not answer within --wait-for-store {waited:g}s, and the "
            "worker does not start without it"
        )
    return BackendUnavailableError(
        f"{exc}. A running worker retries a store that goes away, but at start the store "
        "must answer: start it first, or pass --wait-for-store SECONDS "
        "(Worker(wait_for_store=...)) to wait for it"
    )


def warn_unknown_names(
    basket: Basket, backend: Backend, queues: Sequence[str] | None, names: Sequence[str],
    store: str,
) -> None:
    """Warn when the queues a worker serves hold waiting tasks of names none of its
    handlers knows: they would wait for ever here (a typo, a renamed handler, or the
    wrong store)."""
    try:
        pending = sorted(PENDING_STATES)
        total = backend.tasks_count(TaskFilter(states=pending, queues=queues))
        known = backend.tasks_count(TaskFilter(states=pending, queues=queues, names=names))
        if total <= known:
            return
        sample = basket.unknown_names(queues, limit=UNKNOWN_SAMPLE)
    except UnsupportedOperationError:  # a bus cannot count what waits on it
        return
    named = ", ".join(f"{name} ({count})" for name, count in sorted(sample.items()))
    log.warning(
        "%d waiting task(s) in the queues this worker serves have names none of its "
        "handlers knows%s; they wait for a worker that registers them. This worker uses "
        "the store %s", total - known, f": {named}" if named else "", store,
    )
