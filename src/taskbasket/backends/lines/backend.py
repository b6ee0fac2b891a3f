"""LineBackend: what both line transports share, and the listener that wakes their worker.

Claims take due retries first, then one new line per free slot; retries and delays wait
in memory; outcomes settle in the dead-letter file and (file://) the offset ledger. Each
transport (``file``, ``stream``) supplies its input: how lines are taken and written.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from taskbasket.backends.base import (
    BackendKind,
    Capabilities,
    ClaimedTask,
    ClaimOrder,
    ClaimParams,
    Inspection,
    LeaseExtendParams,
    NewTask,
    Outcome,
    OutcomeKind,
)
from taskbasket.backends.bus.base import DEFAULT_QUEUE, BusBackendBase, unsupported
from taskbasket.backends.bus.message import TaskMessage, corrupt_message
from taskbasket.backends.lines.dead_letters import left_over, refusal, scan_dead_letters
from taskbasket.backends.lines.format import append_lines, parse_line
from taskbasket.backends.private_files import refuse_symlink
from taskbasket.errors import ConfigurationError
from taskbasket.ids import new_task_id, new_token
from taskbasket.rules import BusStep, LostDelivery, bus_action
from taskbasket.storable import storable_text
from taskbasket.task import State, TaskRef

log = logging.getLogger("taskbasket.worker")


def url_options(url: str, allowed: set[str]) -> dict[str, str]:
    """The query options of ``url``; ConfigurationError names any not ``allowed``."""
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise ConfigurationError(f"unknown option(s) {', '.join(unknown)} in {url!r}; "
                                 f"this transport takes {', '.join(sorted(allowed))}")
    return query


@dataclasses.dataclass(eq=False)
class _Entry:
    message: TaskMessage
    key: int  # where its line is: a byte offset (file://) or a line number (stdin://)


class LineBackend(BusBackendBase):
    """What both line transports share: claims of lines, retries in memory, dead letters
    appended to a JSON-lines file. Thread-safe (one lock). Subclasses supply the input."""

    capabilities = Capabilities(transactional_enqueue=False, server_clock=False,
                                notifications=False, multi_host=False, kind=BackendKind.BUS,
                                inspection=Inspection.DEAD_LETTERS, unique_keys=False,
                                priority=False, many_workers=False,
                                created_order=True)
    """Lines run in input order (priorities are ignored), which is enqueue order."""
    keeps_leftovers = True
    """Unfinished tasks survive a stop in the input (file://), else go to the dead letters."""

    def __init__(self, url: str, dead: str) -> None:
        self.url = url
        self.dead_path = os.path.abspath(dead)
        self.position = 0
        """Bytes of the file read (file://), or lines of standard input taken (stdin://)."""
        self._lock = threading.RLock()
        self._opened = self._stopped = False
        self._held: dict[str, tuple[_Entry, int]] = {}  # token -> (entry, attempts)
        self._waiting: list[tuple[float, int, _Entry]] = []  # retries and delays, by run_at
        self._serial = itertools.count()
        self._pending: dict[int, tuple[int, str]] = {}  # unfinished key -> (attempts, id)
        self._recovered: dict[int, tuple[int, str]] = {}  # ... as a killed worker left them

    # --- the input, supplied by each transport (called under the lock)
    def _open(self) -> None: ...
    def _take(self, limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` non-blank lines that can be read now, each with its key."""
        raise NotImplementedError
    def _input_ready(self) -> bool: raise NotImplementedError
    def _exhausted(self) -> bool: raise NotImplementedError
    def _where(self, key: int) -> str: raise NotImplementedError
    def _write(self, messages: Sequence[TaskMessage]) -> None: raise NotImplementedError
    def _save(self) -> None: ...
    def _drain(self) -> list[tuple[int, bytes]]:
        """Lines read but not taken (stdin://'s buffer), as the input stops."""
        return []
    def _idle(self, seconds: float, closed: threading.Event) -> None: closed.wait(seconds)

    def _ensure_open(self) -> None:
        if not self._opened:
            refuse_symlink(self.dead_path)  # as the worker starts, not at its first failure
            self._open()
            self._opened = True

    # --- producers
    def migrate(self) -> None:
        """Nothing to create: a worker opens its input when it starts listening."""

    def tasks_insert(self, tasks: Sequence[NewTask], connection: Any = None) -> list[TaskRef]:
        self._check_insert(tasks, connection)
        now = time.time()
        messages = [TaskMessage.from_new(task, now) for task in tasks]
        self._write(messages)
        return [TaskRef(m.id) for m in messages]

    # --- the worker
    def listener(self, queues: Sequence[str] | None) -> LineListener:
        """Open the input (so its errors surface as the worker starts) and listen to it."""
        with self._lock:
            self._ensure_open()
        return LineListener(self)

    def tasks_claim(self, params: ClaimParams) -> list[ClaimedTask]:
        """Due retries first (by run_at; in created order, the earliest line first), then
        one new line per remaining slot, never more."""
        names = None if params.names is None else set(params.names)
        queues = set(params.queues) if params.queues else None
        claimed: list[ClaimedTask] = []
        dead: list[TaskMessage] = []
        with self._lock:
            if self._stopped or params.limit <= 0:
                return []
            self._ensure_open()
            now = time.time()
            for due in self._take_due(now, params.limit, params.order):
                claimed.append(self._hold(due))
            for key, line in self._take(params.limit - len(claimed)):
                entry = self._accept(key, line, names, queues, now, dead)
                if entry is not None and entry.message.run_at > now:
                    self._wait(entry)
                elif entry is not None:
                    claimed.append(self._hold(entry))
            self._settle(dead)
        return claimed

    def _take_due(self, now: float, limit: int, order: ClaimOrder) -> list[_Entry]:
        """Up to ``limit`` waiting entries that came due: by run_at, or (created order) in
        the order of their lines."""
        due: list[tuple[float, int, _Entry]] = []
        by_line = order is ClaimOrder.CREATED
        while self._waiting and self._waiting[0][0] <= now and (by_line or len(due) < limit):
            due.append(heapq.heappop(self._waiting))
        if by_line:
            due.sort(key=lambda item: item[2].key)
            for item in due[limit:]:
                heapq.heappush(self._waiting, item)
            del due[limit:]
        return [entry for _, _, entry in due]

    def _accept(self, key: int, line: bytes, names: set[str] | None, queues: set[str] | None,
                now: float, dead: list[TaskMessage]) -> _Entry | None:
        """The entry of a line, or None when it went to ``dead`` with the reason."""
        try:
            message = parse_line(line, now)
            error = None
        except (ValueError, TypeError, RecursionError) as exc:
            # (a line nested past Python's recursion limit: dead alone, never its batch)
            reason = ("its JSON is nested too deeply to decode" if isinstance(exc, RecursionError)
                      else str(exc))
            error = (f"not a task: {reason}. Write one JSON object per line, e.g. "
                     '{"name": "send", "args": [1], "kwargs": {}}')
            message = corrupt_message(new_task_id(), DEFAULT_QUEUE, line.rstrip(), error)
        attempts, task_id = self._recovered.pop(key, (0, message.id))
        message = message.but(id=task_id)
        if attempts > message.attempts:  # a killed worker's attempt: counted
            action = bus_action(LostDelivery(attempts, broker_counts=True), 0,
                                message.max_attempts, now)
            message = message.but(attempts=action.attempts, last_error=action.error)
            if action.step is BusStep.DEAD_LETTER:
                error = error or action.error
        error = error or refusal(message, names, queues)
        if error is None:
            return _Entry(message, key)
        error = storable_text(f"{self._where(key)}: {error}")
        log.warning("dead letter (in %s): %s", self.dead_path, error)
        dead.append(message.but(last_error=error, failed_at=now))
        return None

    def _hold(self, entry: _Entry) -> ClaimedTask:
        token, attempts = new_token(), entry.message.attempts + 1
        self._held[token] = (entry, attempts)
        self._pending[entry.key] = (attempts, entry.message.id)
        return entry.message.claimed(attempts, token)

    def _wait(self, entry: _Entry) -> None:
        heapq.heappush(self._waiting, (entry.message.run_at, next(self._serial), entry))
        self._pending[entry.key] = (entry.message.attempts, entry.message.id)

    def _settle(self, dead: list[TaskMessage]) -> None:
        if dead:
            append_lines(self.dead_path, dead, private=True)
        self._save()

    def leases_extend(self, params: LeaseExtendParams) -> set[str]:
        """A lease lasts as long as this process: every task it holds is still held."""
        with self._lock:
            return {lease.task_id for lease in params.leases if lease.token in self._held}

    def tasks_finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        results: list[bool] = []
        dead: list[TaskMessage] = []
        with self._lock:
            now = time.time()
            for outcome in outcomes:
                held = self._held.get(outcome.lease.token)
                results.append(held is not None and held[0].message.id == outcome.lease.task_id)
                if held is None or not results[-1]:
                    continue
                del self._held[outcome.lease.token]
                (entry, attempts), message = held, held[0].message
                if outcome.kind is OutcomeKind.RETRY:
                    run_at = (outcome.retry_at.timestamp() if outcome.retry_at
                              else now + outcome.retry_delay)
                    message = message.but(attempts=attempts, last_error=outcome.error,
                                          run_at=run_at)
                elif outcome.kind is OutcomeKind.FAILED:
                    dead.append(message.but(attempts=attempts, last_error=outcome.error,
                                            failed_at=now))
                if outcome.kind in (OutcomeKind.SUCCEEDED, OutcomeKind.FAILED):
                    self._pending.pop(entry.key, None)
                elif self._stopped and not self.keeps_leftovers:
                    dead.append(left_over(message, now))
                else:  # RETRY, or RELEASED with its attempt not counted
                    self._wait(_Entry(message, entry.key))
            self._settle(dead)
        return results

    def close(self) -> None:
        self.stop()

    # --- stop and done
    def stop(self) -> None:
        """Stop reading: later claims take nothing, and what was read and not finished is
        left over (see the module). Never blocks on input; safe at any time, and twice."""
        with self._lock:
            if self._stopped or not self._opened:
                self._stopped = True
                return
            self._stopped, now = True, time.time()
            dead: list[TaskMessage] = []
            if not self.keeps_leftovers:  # in the order they were read
                waiting = sorted(self._waiting, key=lambda item: item[2].key)
                dead = [left_over(entry.message, now) for _, _, entry in waiting]
                self._waiting.clear()
            for key, line in self._drain():
                entry = self._accept(key, line, None, None, now, dead)
                if entry is not None:
                    dead.append(left_over(entry.message, now))
            self._settle(dead)

    def finished(self) -> bool:
        """True once the input is exhausted or stopped and no task is held or waiting."""
        with self._lock:
            return not self._held and (self._stopped or (
                self._opened and not self._waiting and self._exhausted()))

    def _ready(self) -> bool:
        with self._lock:
            if self._stopped:
                return False
            due = bool(self._waiting) and self._waiting[0][0] <= time.time()
            return due or (self._opened and self._input_ready())

    # --- dead letters (BusBackendBase turns them into list/count/retry/delete of failed)
    def _scan_dead_letters(
        self, queues: Sequence[str] | None, take: Callable[[TaskMessage], bool] | None = None
    ) -> list[TaskMessage]:
        return scan_dead_letters(self.dead_path, queues, take)

    def known_queues(self) -> list[str]:
        return sorted({m.queue for m in self._scan_dead_letters(None)} | {DEFAULT_QUEUE})

    def _ready_count(self, queue: str) -> int:
        raise unsupported(self.transport_name, "count queued tasks: it reads its input line "
                          "by line", "It can count failed tasks: count(state='failed').")

    def tasks_stats(self) -> dict[tuple[str, State], int]:
        """Failed counts per queue (the dead-letter file): all a line transport can tell."""
        return dict(Counter((m.queue, State.FAILED) for m in self._scan_dead_letters(None)))


class LineListener:
    """Wakes the worker when a line or a retry is ready. Closing it stops the backend's
    input: the worker closes its listener as it stops."""

    def __init__(self, backend: LineBackend) -> None:
        self.backend = backend
        self._closed = threading.Event()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self._closed.is_set():
            if self.backend._ready():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.backend._idle(min(left, 0.05), self._closed)
        return False

    def close(self) -> None:
        self._closed.set()
        self.backend.stop()
