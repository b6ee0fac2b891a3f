"""FileBackend: the ``file://`` transport, a task file that one worker reads and resumes.

Producers append lines; the worker reads from where ``<path>.offset`` says (that file is
also its one-worker lock and its ledger of lines read and not finished), and ends at the
end of the file unless ``?follow=1``.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Sequence
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from taskbasket.backends.bus.message import TaskMessage
from taskbasket.backends.lines.backend import LineBackend, url_options
from taskbasket.backends.lines.format import append_lines, locked
from taskbasket.backends.private_files import open_private_file
from taskbasket.errors import ConfigurationError, StoreCorruptedError


class FileBackend(LineBackend):
    """``file:///path/tasks.jsonl[?follow=1][&dead=PATH]``: producers append, one worker
    reads from where ``<path>.offset`` says, and ends at the end unless ``follow``."""

    transport_name = "the file:// transport"

    def __init__(self, url: str) -> None:
        parts, query = urlsplit(url), url_options(url, {"follow", "dead"})
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
        with locked(self._file.fileno(), fcntl.LOCK_SH):
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
