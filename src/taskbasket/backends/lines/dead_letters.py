"""The dead-letter file of the line transports: what goes in it and how it is read back.

A task that failed, a line that is not a task, a task this worker cannot run, and (for
``stdin://``) a task read and not finished when the worker stopped are appended to a
JSON-lines file; listing, counting, retrying and deleting failed tasks read or rewrite it.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable, Sequence

from taskbasket.backends.bus.base import DEFAULT_QUEUE
from taskbasket.backends.bus.message import TaskMessage, corrupt_message
from taskbasket.backends.lines.format import locked
from taskbasket.backends.private_files import refuse_symlink
from taskbasket.errors import StoreCorruptedError

DEFAULT_DEAD = "taskbasket-dead.jsonl"
"""The dead-letter file of ``stdin://`` (in the working directory) unless ``?dead=``."""


def scan_dead_letters(
    dead_path: str, queues: Sequence[str] | None,
    take: Callable[[TaskMessage], bool] | None = None,
) -> list[TaskMessage]:
    """The dead letters of ``queues`` (all: None) in ``dead_path``; those ``take`` is true
    of are removed from the file (under its lock). A line that is not a task is read as a
    corrupt message."""
    try:
        fd = os.open(dead_path, (os.O_RDWR if take else os.O_RDONLY) | os.O_NOFOLLOW)
    except FileNotFoundError:
        return []
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # rewriting through a link could truncate anything
            refuse_symlink(dead_path)
        raise
    file = os.fdopen(fd, "r+b" if take else "rb")
    found: list[TaskMessage] = []
    with file, locked(file.fileno(), fcntl.LOCK_EX if take else fcntl.LOCK_SH):
        lines = [line for line in file.read().splitlines() if line.strip()]
        kept = []
        for line in lines:
            try:
                message = TaskMessage.decode(line, dead_path)
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


def refusal(message: TaskMessage, names: set[str] | None, queues: set[str] | None) -> str | None:
    """Why this worker cannot run ``message``, which then goes to the dead letters."""
    if message.attempts >= message.max_attempts:
        return message.last_error or "no attempts left"
    if names is not None and message.name not in names:
        return (f"no handler for task {message.name!r} in this worker (it runs "
                f"{', '.join(sorted(names))}), and a line has no other worker to go to")
    if queues is not None and message.queue not in queues:
        return f"queue {message.queue!r} is not among this worker's --queues"
    return None


def left_over(message: TaskMessage, now: float) -> TaskMessage:
    """The dead letter of a task a stdin:// worker read and did not finish."""
    error = (f"not finished: the worker stopped before attempt {message.attempts + 1} of "
             f"{message.max_attempts}; feed this line to a worker again to run it (its "
             "attempts start again)")
    if message.last_error:
        error += f"\nlast error: {message.last_error}"
    return message.but(last_error=error, failed_at=now)
