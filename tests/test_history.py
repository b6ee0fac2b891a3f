"""The history's rules, without a store: bounded in entries and size, unreadable entries
left out, and the snooze rules (the cap, the DEFERRED outcome, a bus's action)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from taskbasket import Snooze
from taskbasket.backends.base import Lease, OutcomeKind
from taskbasket.history import (
    MAX_ATTEMPT_ENTRIES,
    MAX_EDIT_ENTRIES,
    MAX_ERROR_SUMMARY,
    AttemptEntry,
    EditEntry,
    error_summary,
    read_history,
    with_attempt,
    with_edit,
)
from taskbasket.rules import BusStep, bus_action, deferred, snooze_cap_error

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _attempt(n: int, error: str = "") -> AttemptEntry:
    return AttemptEntry(n, "w1", NOW, NOW + timedelta(seconds=1), "retry", error)


def test_the_history_keeps_the_last_attempts_and_edits() -> None:
    text = None
    for n in range(1, 31):
        text = with_attempt(text, _attempt(n))
        if n % 2 == 0:
            text = with_edit(text, NOW, {"priority": n})
    entries = read_history(text)
    attempts = [e for e in entries if isinstance(e, AttemptEntry)]
    edits = [e for e in entries if isinstance(e, EditEntry)]
    assert [e.attempt for e in attempts] == list(range(31 - MAX_ATTEMPT_ENTRIES, 31))
    assert [e.previous["priority"] for e in edits] == list(range(12, 31, 2))
    assert len(edits) == MAX_EDIT_ENTRIES
    assert attempts[0] == _attempt(31 - MAX_ATTEMPT_ENTRIES)  # times round-trip


def test_entries_are_bounded_in_size() -> None:
    long_line = "ValueError: " + "x" * 5000
    assert len(error_summary(f"Traceback\n  ...\n{long_line}\n[gave up after attempt 3 of 3]")
               ) == MAX_ERROR_SUMMARY
    assert error_summary(None) == ""
    text = with_edit(None, NOW, {"kwargs": {"blob": "y" * 10_000}, "queue": "q"})
    [edit] = read_history(text)
    assert isinstance(edit, EditEntry) and edit.previous["queue"] == "q"
    assert "not_kept" in edit.previous["kwargs"] and len(text) < 500


def test_an_unreadable_history_or_entry_is_left_out() -> None:
    assert read_history("not json") == () and read_history('{"a": 1}') == ()
    good = json.loads(with_attempt(None, _attempt(1)))
    text = json.dumps([{"kind": "attempt", "attempt": "x"}, {"kind": "other"}, 3, *good])
    assert read_history(text) == (_attempt(1),)
    # the next write drops what is no entry of a known kind, and keeps the rest as it is
    assert len(json.loads(with_attempt(text, _attempt(2)))) == 3


def test_snooze_rules() -> None:
    assert snooze_cap_error(99, 100) is None
    assert "max_snoozes of 100" in (snooze_cap_error(100, 100) or "")
    lease = Lease("t", "token")
    outcome = deferred(lease, delay=30, snoozes_added=1)
    assert (outcome.kind, outcome.retry_delay, outcome.snoozes_added) == (
        OutcomeKind.DEFERRED, 30, 1)
    action = bus_action(outcome, attempts=3, max_attempts=5, now=1000.0)
    assert (action.step, action.attempts, action.run_at) == (BusStep.PUBLISH, 2, 1030.0)
    with pytest.raises(TypeError, match="one of delay"):
        Snooze()
    with pytest.raises(TypeError, match="one of delay"):
        Snooze(1, at=NOW)
    assert Snooze(timedelta(minutes=2)).delay == 120
    assert Snooze(at=NOW).at == NOW
