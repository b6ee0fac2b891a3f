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

The package: ``format`` (the line format, and appending lines), ``dead_letters`` (the
dead-letter file), ``backend`` (LineBackend, what both transports share, and its listener),
``file`` (FileBackend) and ``stream`` (StreamBackend).
"""

from __future__ import annotations

from taskbasket.backends.lines.backend import LineBackend, LineListener
from taskbasket.backends.lines.dead_letters import DEFAULT_DEAD
from taskbasket.backends.lines.file import FileBackend
from taskbasket.backends.lines.format import SHORT_DEFAULTS, append_lines, parse_line
from taskbasket.backends.lines.stream import StreamBackend

__all__ = [
    "DEFAULT_DEAD", "SHORT_DEFAULTS", "FileBackend", "LineBackend", "LineListener",
    "StreamBackend", "append_lines", "parse_line",
]
