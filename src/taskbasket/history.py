"""A task's history: its last attempts and the operators' edits, kept with the task.

The core writes it, whole, in the fenced step that records an attempt's outcome (the
claim hands the stored history to the worker), in the fenced rescue of an expired lease
(``leases_expired`` hands it to the rescuer) and in the atomic step of an edit and retry;
a store only keeps the text. It is JSON: a list of entries, oldest first, each
an object with ``"kind"`` ``"attempt"`` or ``"edit"``. It stays small: the last
``MAX_ATTEMPT_ENTRIES`` attempts and ``MAX_EDIT_ENTRIES`` edits, each error summary cut
to ``MAX_ERROR_SUMMARY`` characters and each previous value to ``MAX_PREVIOUS_CHARS``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from taskbasket.storable import storable_text

MAX_ATTEMPT_ENTRIES = 20
"""The attempts a history keeps; the oldest is dropped first."""
MAX_EDIT_ENTRIES = 10
"""The edits a history keeps; the oldest is dropped first."""
MAX_ERROR_SUMMARY = 300
"""The characters of an error's last line an attempt entry keeps."""
MAX_PREVIOUS_CHARS = 2000
"""The characters of a previous value's JSON an edit entry keeps (past that: a note)."""


@dataclass(frozen=True, slots=True)
class AttemptEntry:
    """One attempt: its number, the worker that ran it, when it started and ended (aware
    UTC, the worker's clock; the store's for ``lease_expired``, which the rescuer
    records), its ``outcome`` (succeeded, retry, failed, snoozed, deferred,
    lease_expired) and the error's last line ("" without one)."""

    attempt: int
    worker_id: str | None
    started_at: datetime
    ended_at: datetime
    outcome: str
    error: str = ""


@dataclass(frozen=True, slots=True)
class EditEntry:
    """An edit and retry: when, and the ``previous`` values of the fields it changed
    (``args``, ``kwargs``, ``queue``, ``priority``); a previous value too long to keep is
    a note saying how long it was."""

    edited_at: datetime
    previous: Mapping[str, Any]


HistoryEntry = AttemptEntry | EditEntry


def error_summary(error: str | None) -> str:
    """The last non-blank line of an error text, cut to ``MAX_ERROR_SUMMARY``; the worker's
    ``[gave up after ...]`` note is skipped."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    while lines and lines[-1].startswith("[gave up after attempt"):
        lines.pop()
    line = lines[-1] if lines else ""
    return line if len(line) <= MAX_ERROR_SUMMARY else line[:MAX_ERROR_SUMMARY - 3] + "..."


def _load(text: str | None) -> list[dict[str, Any]]:
    """The stored entries; an unreadable history reads as none (it is informative only)."""
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return []
    return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []


def _bounded(entries: list[dict[str, Any]]) -> str:
    attempts = [i for i, e in enumerate(entries) if e.get("kind") == "attempt"]
    edits = [i for i, e in enumerate(entries) if e.get("kind") == "edit"]
    keep = set(attempts[-MAX_ATTEMPT_ENTRIES:]) | set(edits[-MAX_EDIT_ENTRIES:])
    return json.dumps([e for i, e in enumerate(entries) if i in keep],
                      separators=(",", ":"), ensure_ascii=False)


def with_attempt(text: str | None, entry: AttemptEntry) -> str:
    """The history ``text`` with ``entry`` appended, bounded."""
    entries = _load(text)
    entries.append({
        "kind": "attempt", "attempt": entry.attempt, "worker_id": entry.worker_id,
        "started_at": entry.started_at.timestamp(), "ended_at": entry.ended_at.timestamp(),
        "outcome": entry.outcome, "error": storable_text(entry.error),
    })
    return _bounded(entries)


def _previous_value(value: Any) -> Any:
    text = json.dumps(value, ensure_ascii=False)
    if len(text) <= MAX_PREVIOUS_CHARS:
        return value
    return {"not_kept": f"a value of {len(text)} characters as JSON, over {MAX_PREVIOUS_CHARS}"}


def with_edit(text: str | None, edited_at: datetime, previous: Mapping[str, Any]) -> str:
    """The history ``text`` with an edit entry appended (``previous``: field -> value
    before the edit), bounded."""
    entries = _load(text)
    entries.append({"kind": "edit", "edited_at": edited_at.timestamp(),
                    "previous": {k: _previous_value(v) for k, v in previous.items()}})
    return _bounded(entries)


def _time(value: Any) -> datetime:
    return datetime.fromtimestamp(float(value), UTC)


def _entry(data: dict[str, Any]) -> HistoryEntry | None:
    try:
        if data.get("kind") == "edit":
            previous = data.get("previous")
            return EditEntry(_time(data["edited_at"]),
                             dict(previous) if isinstance(previous, dict) else {})
        if data.get("kind") == "attempt":
            worker = data.get("worker_id")
            return AttemptEntry(
                int(data["attempt"]), None if worker is None else str(worker),
                _time(data["started_at"]), _time(data["ended_at"]), str(data["outcome"]),
                str(data.get("error") or ""))
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None
    return None


def read_history(text: str | None) -> tuple[HistoryEntry, ...]:
    """The entries of a stored history, oldest first; an entry that cannot be read (not
    written by taskbasket) is left out."""
    entries = (_entry(data) for data in _load(text))
    return tuple(entry for entry in entries if entry is not None)


__all__ = [
    "MAX_ATTEMPT_ENTRIES", "MAX_EDIT_ENTRIES", "MAX_ERROR_SUMMARY", "MAX_PREVIOUS_CHARS",
    "AttemptEntry", "EditEntry", "HistoryEntry", "error_summary", "read_history",
    "with_attempt", "with_edit",
]
