"""Line transports for shell pipelines: ``file:///path/tasks.jsonl`` and ``stdin://``.

One task per line: a :class:`~taskbasket.backends.bus.message.TaskMessage`'s JSON, or
the short form ``{"name": "send", "args": [...], "kwargs": {...}}`` (see :func:`parse_line`).
Producers append lines: to the file (under an exclusive ``flock``, one ``write`` per
batch: concurrent producers never interleave), or to standard output (``stdout://``, an
alias of ``stdin://``). One worker reads an input, one line per free slot; retries wait
in its memory; failures, lines that are not tasks and tasks it cannot run are appended
to the dead-letter file (``<path>.dead``, or ``?dead=``; ``stdin://``:
``taskbasket-dead.jsonl`` in the working directory) with ``last_error`` and ``failed_at``.
At the end of the input (EOF; ``file://...?follow=1`` tails the file instead), with
nothing running or waiting for a retry, ``finished()`` is True and ``Worker.run`` ends.

``file://`` resumes: ``<path>.offset`` holds how far the file was read and the attempts
and id of each line read and not finished. The next worker skips finished lines and runs
the others again, counting the attempt a killed worker lost (a poison task ends dead).
``stdin://`` cannot read a line twice: a graceful stop writes what it read and did not
finish to the dead-letter file, with a note; a killed stdin worker loses it.

The side files (``.offset``, the dead letters) are created with mode 0600 and never opened
through a symbolic link (see ``private_files``); the task file itself is the user's choice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import heapq
import itertools
import json
import logging
import math
import os
import select
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, unquote, urlsplit

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
    TaskFilter,
)
from taskbasket.backends.bus.base import DEFAULT_QUEUE, BusBackendBase, unsupported
from taskbasket.backends.bus.message import TaskMessage, corrupt_message
from taskbasket.backends.private_files import open_private_file, refuse_symlink
from taskbasket.codec import encode_arguments
from taskbasket.errors import ConfigurationError, StoreCorruptedError
from taskbasket.ids import new_task_id, new_token
from taskbasket.rules import BusStep, LostDelivery, bus_action
from taskbasket.storable import storable_text
from taskbasket.task import State, TaskRef
from taskbasket.validation import check_max_attempts, check_name, check_priority, check_timeout

log = logging.getLogger("taskbasket.worker")

DEFAULT_DEAD = "taskbasket-dead.jsonl"
SHORT_DEFAULTS: dict[str, Any] = {
    "queue": DEFAULT_QUEUE, "priority": 0, "max_attempts": 10, "timeout": 300.0, "attempts": 0}
"""What a line leaves out: Basket's defaults, not the options of the task's decorator."""
_FIELDS = {f.name for f in dataclasses.fields(TaskMessage)}
_TYPES = {"id": str, "queue": str, "payload": str, "priority": int, "max_attempts": int,
          "attempts": int, "timeout": float, "created_at": float, "run_at": float,
          "last_error": str, "failed_at": float}


def parse_line(line: bytes, now: float) -> TaskMessage:
    """The task one line stands for; ValueError or TypeError says why it is not one.

    ``name`` is required and ``args``/``kwargs`` may stand for ``payload``; any other
    TaskMessage field may be given, the rest default to :data:`SHORT_DEFAULTS`, a new id
    and now. A dead letter fed back in (``failed_at`` set) is a retry: attempts restart.
    """
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError(f"a JSON {type(data).__name__}, not an object")
    unknown = sorted(set(data) - _FIELDS - {"args", "kwargs"})
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}")
    name = check_name("task", data.get("name"))
    args, kwargs = data.pop("args", []), data.pop("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise ValueError("args must be a JSON array and kwargs an object")
    if "payload" in data and (args or kwargs):
        raise ValueError("give payload or args/kwargs, not both")
    fields = {**SHORT_DEFAULTS, "id": new_task_id(), "created_at": now, "run_at": now,
              "payload": data.get("payload") or encode_arguments(name, args, kwargs), **data}
    for key, kind in _TYPES.items():
        value = fields.get(key)
        valid = (isinstance(value, str) and value != "" if kind is str
                 else isinstance(value, int) and not isinstance(value, bool) if kind is int
                 else isinstance(value, int | float) and math.isfinite(value))
        if not valid and not (value is None and key in ("last_error", "failed_at")):
            raise ValueError(f"{key} must be a {'non-empty str' if kind is str else kind.__name__}"
                             f", got {value!r}")
    check_name("queue", fields["queue"])
    check_priority(fields["priority"])
    check_max_attempts(fields["max_attempts"])
    check_timeout(fields["timeout"])
    message = TaskMessage(**fields)
    if message.failed_at is not None:
        message = message.but(attempts=0, failed_at=None, run_at=now)
    return message


def append_lines(path: str, messages: Sequence[TaskMessage], private: bool = False) -> None:
    """Append one JSON line per message to ``path`` in one write under an exclusive
    ``flock``, so that concurrent writers never interleave their lines. A ``private`` file
    (a side file: the dead letters) is made 0600 and never opened through a link."""
    flags = os.O_WRONLY | os.O_APPEND
    fd = open_private_file(path, flags) if private else os.open(path, flags | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _write_all(fd, b"".join(m.encode() + b"\n" for m in messages))
    finally:
        os.close(fd)  # releases the lock


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


@contextlib.contextmanager
def _locked(fd: int, kind: int) -> Iterator[None]:
    fcntl.flock(fd, kind)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _query(url: str, allowed: set[str]) -> dict[str, str]:
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
        error = error or _refusal(message, names, queues)
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
                    dead.append(_left_over(message, now))
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
                dead = [_left_over(entry.message, now) for _, _, entry in waiting]
                self._waiting.clear()
            for key, line in self._drain():
                entry = self._accept(key, line, None, None, now, dead)
                if entry is not None:
                    dead.append(_left_over(entry.message, now))
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
        try:
            fd = os.open(self.dead_path, (os.O_RDWR if take else os.O_RDONLY) | os.O_NOFOLLOW)
        except FileNotFoundError:
            return []
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # rewriting through a link could truncate anything
                refuse_symlink(self.dead_path)
            raise
        file = os.fdopen(fd, "r+b" if take else "rb")
        found: list[TaskMessage] = []
        with file, _locked(file.fileno(), fcntl.LOCK_EX if take else fcntl.LOCK_SH):
            lines = [line for line in file.read().splitlines() if line.strip()]
            kept = []
            for line in lines:
                try:
                    message = TaskMessage.decode(line, self.dead_path)
                except StoreCorruptedError as exc:
                    message = corrupt_message(None, DEFAULT_QUEUE, line, str(exc))
                if queues is None or message.queue in queues:
                    found.append(message)
                    if take is not None and take(message):
                        continue
                kept.append(line + b"\n")
            if len(kept) < len(lines):
                file.seek(0)
                file.truncate()
                file.write(b"".join(kept))
        return found

    def known_queues(self) -> list[str]:
        return sorted({m.queue for m in self._scan_dead_letters(None)} | {DEFAULT_QUEUE})

    def _ready_count(self, queue: str) -> int:
        raise unsupported(self.transport_name, "count queued tasks: it reads its input line "
                          "by line", "It can count failed tasks: count(state='failed').")

    def tasks_stats(self) -> dict[tuple[str, State], int]:
        """Failed counts per queue (the dead-letter file): all a line transport can tell."""
        return dict(Counter((m.queue, State.FAILED) for m in self._scan_dead_letters(None)))


def _refusal(message: TaskMessage, names: set[str] | None, queues: set[str] | None) -> str | None:
    """Why this worker cannot run ``message``, which then goes to the dead letters."""
    if message.attempts >= message.max_attempts:
        return message.last_error or "no attempts left"
    if names is not None and message.name not in names:
        return (f"no handler for task {message.name!r} in this worker (it runs "
                f"{', '.join(sorted(names))}), and a line has no other worker to go to")
    if queues is not None and message.queue not in queues:
        return f"queue {message.queue!r} is not among this worker's --queues"
    return None


def _left_over(message: TaskMessage, now: float) -> TaskMessage:
    """The dead letter of a task a stdin:// worker read and did not finish."""
    error = (f"not finished: the worker stopped before attempt {message.attempts + 1} of "
             f"{message.max_attempts}; feed this line to a worker again to run it (its "
             "attempts start again)")
    if message.last_error:
        error += f"\nlast error: {message.last_error}"
    return message.but(last_error=error, failed_at=now)


class FileBackend(LineBackend):
    """``file:///path/tasks.jsonl[?follow=1][&dead=PATH]``: producers append, one worker
    reads from where ``<path>.offset`` says, and ends at the end unless ``follow``."""

    transport_name = "the file:// transport"

    def __init__(self, url: str) -> None:
        parts, query = urlsplit(url), _query(url, {"follow", "dead"})
        path = unquote(parts.path if parts.netloc in ("", "localhost") else
                       parts.netloc + parts.path)
        if not path:
            raise ConfigurationError(f"{url!r} names no file: write file:///abs/tasks.jsonl")
        self.path = os.path.abspath(path)
        if query.get("follow", "0") not in ("0", "1"):
            raise ConfigurationError(f"{url!r}: write follow=1 (tail the file) or follow=0")
        self.follow = query.get("follow") == "1"
        super().__init__(url, query.get("dead") or self.path + ".dead")
        if self.dead_path == self.path:
            raise ConfigurationError(f"dead= in {url!r} is the task file itself")
        self._file: BinaryIO | None = None
        self._ledger = -1
        self._read = self._seen = self._inode = 0
        self._at_end = False
        self._saved = b""

    def _open(self) -> None:
        """Open the file and take ``<path>.offset``: the one-worker lock and the ledger."""
        if self.follow:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644))
        try:
            self._file = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        except FileNotFoundError:
            raise ConfigurationError(f"no task file {self.path}: enqueue to it first, or add "
                                     "?follow=1 to wait for it") from None
        stat = os.fstat(self._file.fileno())
        self._inode = stat.st_ino
        try:
            self._ledger = open_private_file(self.path + ".offset", os.O_RDWR)
        except (OSError, ConfigurationError):
            self.close()
            raise
        try:
            fcntl.flock(self._ledger, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.close()
            raise ConfigurationError(f"another worker is reading {self.path} (it holds "
                                     f"{self.path}.offset); a file has one worker") from None
        first = os.pread(self._ledger, 1 << 20, 0).split(b"\n", 1)[0]
        try:
            saved: dict[str, Any] = json.loads(first) if first.strip() else {"inode": stat.st_ino}
            self._read = int(saved.get("read", 0))
            self._recovered = {int(k): (int(a), str(i))
                               for k, (a, i) in saved.get("pending", {}).items()}
            problem = "was replaced" if saved["inode"] != stat.st_ino else (
                "is shorter than was read of it" if self._read > stat.st_size else None)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            problem = f"has an unreadable {self.path}.offset ({exc!r})"
        if problem is not None:
            self.close()
            raise StoreCorruptedError(f"{self.path} {problem}; delete {self.path}.offset to "
                                      "read the file again from its start")
        self._pending = dict(self._recovered)
        self.position = self._seen = min(self._recovered, default=self._read)

    def _take(self, limit: int) -> list[tuple[int, bytes]]:
        assert self._file is not None
        lines: list[tuple[int, bytes]] = []
        with _locked(self._file.fileno(), fcntl.LOCK_SH):
            self._file.seek(self.position)
            while len(lines) < limit:
                line = self._file.readline()
                if not line or (self.follow and not line.endswith(b"\n")):
                    self._at_end, self._seen = True, self.position + len(line)
                    break
                start = self.position
                self.position = self._seen = start + len(line)
                self._at_end = False
                if start < self._read and start not in self._recovered:
                    continue  # finished before a restart
                self._read = max(self._read, self.position)
                if line.strip():
                    lines.append((start, line))
        return lines

    def _input_ready(self) -> bool:
        return self._file is not None and os.fstat(self._file.fileno()).st_size > self._seen

    def _exhausted(self) -> bool:
        return self._at_end and not self.follow

    def _where(self, key: int) -> str:
        return f"the line at byte {key} of {self.path}"

    def _save(self) -> None:
        """Rewrite ``.offset`` in place: one small write, and only its first line counts."""
        data = json.dumps({"read": self._read, "inode": self._inode, "pending": {
            str(k): v for k, v in sorted(self._pending.items())}}).encode() + b"\n"
        if data != self._saved and self._ledger >= 0:
            os.pwrite(self._ledger, data, 0)
            os.ftruncate(self._ledger, len(data))
            self._saved = data

    def close(self) -> None:
        super().close()
        with self._lock:
            if self._file is not None:
                self._file.close()
            if self._ledger >= 0:
                os.close(self._ledger)  # releases the one-worker lock
                self._ledger = -1

    def _write(self, messages: Sequence[TaskMessage]) -> None:
        append_lines(self.path, messages)

    def _requeue(self, message: TaskMessage) -> None:
        append_lines(self.path, [message])


class StreamBackend(LineBackend):
    """``stdin://[?dead=PATH]`` (alias ``stdout://``): a worker reads standard input and
    ends at EOF; producers write standard output. ``input_fd``/``output_fd`` replace 0/1."""

    transport_name = "the stdin:// transport"
    keeps_leftovers = False

    def __init__(self, url: str, *, input_fd: int = 0, output_fd: int = 1) -> None:
        parts = urlsplit(url)
        if parts.netloc or parts.path:
            raise ConfigurationError(f"{url!r}: {parts.scheme}:// takes no path, only "
                                     "?dead=/path/to/dead.jsonl")
        super().__init__(url, _query(url, {"dead"}).get("dead") or DEFAULT_DEAD)
        self.input_fd, self.output_fd = input_fd, output_fd
        self.writes_stdout = output_fd == 1
        """Standard output carries the tasks, so the CLI prints nothing else there."""
        self._buffer = bytearray()
        self._eof = False
        self._write_lock = threading.Lock()

    def _open(self) -> None:
        given = os.fstat(self.input_fd)
        with contextlib.suppress(FileNotFoundError):
            dead = os.stat(self.dead_path)
            if (dead.st_dev, dead.st_ino) == (given.st_dev, given.st_ino):
                raise ConfigurationError(
                    f"standard input is the dead-letter file {self.dead_path}: its own "
                    "failures would be read again forever; move it first (mv it retry.jsonl)")

    def _readable(self, seconds: float) -> bool:
        return bool(select.select([self.input_fd], [], [], seconds)[0])

    def _take(self, limit: int) -> list[tuple[int, bytes]]:
        """Lines from a buffer refilled (one read of what is available) only when needed."""
        lines: list[tuple[int, bytes]] = []
        while len(lines) < limit:
            end = self._buffer.find(b"\n") + 1
            if not end and not self._eof and self._readable(0):
                chunk = os.read(self.input_fd, 65536)
                self._buffer += chunk
                self._eof = not chunk
                continue
            if not end and not (self._eof and self._buffer):
                break
            end = end or len(self._buffer)  # the last line may have no newline
            line = bytes(self._buffer[:end])
            del self._buffer[:end]
            self.position += 1
            if line.strip():
                lines.append((self.position, line))
        return lines

    def _input_ready(self) -> bool:
        return b"\n" in self._buffer or (self._eof and bool(self._buffer)) or (
            not self._eof and self._readable(0))

    def _exhausted(self) -> bool:
        return self._eof and not self._buffer

    def _where(self, key: int) -> str:
        return f"line {key} of standard input"

    def _idle(self, seconds: float, closed: threading.Event) -> None:
        if self._eof:
            closed.wait(seconds)
        else:
            self._readable(seconds)

    def _drain(self) -> list[tuple[int, bytes]]:
        lines = bytes(self._buffer).splitlines(keepends=True)
        self._buffer.clear()
        return [(self.position + n, line) for n, line in enumerate(lines, 1) if line.strip()]

    def _write(self, messages: Sequence[TaskMessage]) -> None:
        with self._write_lock:
            if self.writes_stdout and sys.stdout is not None:
                sys.stdout.flush()
            _write_all(self.output_fd, b"".join(m.encode() + b"\n" for m in messages))

    def tasks_retry(self, task_filter: TaskFilter) -> int:
        raise unsupported(self.transport_name, "requeue dead letters: it cannot write to its "
                          "own standard input", f"Feed them back instead: mv {self.dead_path} "
                          "retry.jsonl; taskbasket worker APP --url stdin:// < retry.jsonl.")


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
