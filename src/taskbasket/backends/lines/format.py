"""The line format of the line transports: one task per JSON line, parsed and appended.

A line is a TaskMessage's JSON or its short form (see :func:`parse_line`); producers and
the dead-letter file append lines under an exclusive ``flock``, one ``write`` per batch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

from taskbasket.backends.bus.base import DEFAULT_QUEUE
from taskbasket.backends.bus.message import TaskMessage
from taskbasket.backends.private_files import open_private_file
from taskbasket.codec import encode_arguments
from taskbasket.ids import new_task_id
from taskbasket.validation import check_max_attempts, check_name, check_priority, check_timeout

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
        write_all(fd, b"".join(m.encode() + b"\n" for m in messages))
    finally:
        os.close(fd)  # releases the lock


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``, however many writes it takes."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


@contextlib.contextmanager
def locked(fd: int, kind: int) -> Iterator[None]:
    """Hold a ``flock`` of ``kind`` on ``fd`` for the block."""
    fcntl.flock(fd, kind)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
