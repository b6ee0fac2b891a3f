"""A task's messages as stored: the JSON text of ``{"queue": [[name, value], ...],
"waiting": [name, until] | null}``: the messages sent and not yet taken, oldest first
(each value the JSON text of ``encode_result``), and the message the task waits for with
its deadline (seconds since the epoch, or null for none).

These pure functions compute the new text; the store swaps it atomically, compared with
the text that was read (``MessagesSwap``), so a concurrent send or take is never lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from taskbasket.errors import StoreCorruptedError


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A decoded messages text."""

    queue: tuple[tuple[str, str | None], ...] = ()
    waiting: tuple[str, float | None] | None = None

    def encode(self) -> str | None:
        """The stored text (None when there is nothing to keep)."""
        if not self.queue and self.waiting is None:
            return None
        return json.dumps({"queue": [list(item) for item in self.queue],
                           "waiting": None if self.waiting is None else list(self.waiting)},
                          separators=(",", ":"))

    def sent(self, name: str, value: str | None) -> Mailbox:
        """The mailbox with a message appended."""
        return Mailbox((*self.queue, (name, value)), self.waiting)

    def take(self, name: str) -> tuple[bool, str | None, Mailbox]:
        """(True, value, the mailbox without it and not waiting) for the oldest message
        named ``name``; (False, None, self) if there is none."""
        for index, (item_name, value) in enumerate(self.queue):
            if item_name == name:
                rest = self.queue[:index] + self.queue[index + 1:]
                return True, value, Mailbox(rest, None)
        return False, None, self

    def wait_for(self, name: str, until: float | None) -> Mailbox:
        """The mailbox waiting for ``name`` until ``until`` (kept if it already waits for
        that name: the deadline of the first ask holds)."""
        if self.waiting is not None and self.waiting[0] == name:
            return self
        return Mailbox(self.queue, (name, until))

    def stop_waiting(self) -> Mailbox:
        return Mailbox(self.queue, None)

    @property
    def wakes(self) -> bool:
        """The task waits for a message it has: a waiting receiver should run now."""
        return self.waiting is not None and any(
            name == self.waiting[0] for name, _ in self.queue)


def decode_mailbox(task_id: str, text: str | None) -> Mailbox:
    """The mailbox of ``task_id`` from its stored text; StoreCorruptedError if unreadable."""
    if text is None:
        return Mailbox()
    try:
        data = json.loads(text)
        queue = tuple((str(name), None if value is None else str(value))
                      for name, value in data["queue"])
        waiting = data["waiting"]
        if waiting is not None:
            name, until = waiting
            waiting = (str(name), None if until is None else float(until))
    except (ValueError, TypeError, KeyError) as exc:
        raise StoreCorruptedError(
            f"the stored messages of task {task_id} cannot be decoded ({exc}); stored "
            f"text begins {text[:80]!r}") from exc
    return Mailbox(queue, waiting)


__all__ = ["Mailbox", "decode_mailbox"]
