"""The memory store's edit and retry (``tasks_edit``) and the count a claim gives back."""

from __future__ import annotations

from typing import Any

from taskbasket.backends.base import TaskEditParams
from taskbasket.backends.memory.store import MemoryStore
from taskbasket.task import State

_EDITABLE = frozenset({State.FAILED.value, State.CANCELLED.value})


def given_back(attempts: Any) -> Any:
    """A claim's attempt given back (a hand-back, a deferral); a corrupt count stays."""
    return max(attempts - 1, 0) if isinstance(attempts, int) else attempts


def edit_record(store: MemoryStore, params: TaskEditParams) -> bool:
    """Apply ``params`` to its task if it is failed or cancelled, its history is the one
    expected and no other unfinished task holds its unique key; True if applied. The
    caller holds the store's lock."""
    record = store.tasks.get(params.task_id)
    if record is None or record.state_value not in _EDITABLE:
        return False
    if record.history != params.expected_history:
        return False
    key = record.unique_key
    holder = None if key is None else store.key_holder(key)
    if holder is not None and holder != record.id:
        return False
    fields: dict[str, Any] = {"history": params.history}
    for name in ("payload", "queue", "priority"):
        value = getattr(params, name)
        if value is not None:
            fields[name] = value
    now = store.clock.time()
    store.change(record, now, state=State.QUEUED, attempts=0, snoozes=0, run_at=now,
                 finished_at=None, started_at=None, lease_token=None, lease_expires_at=None,
                 **fields)  # (filed again under its new queue and priority)
    store.wake()
    return True


__all__ = ["edit_record", "given_back"]
