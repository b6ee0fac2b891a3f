"""The memory store's durable steps and messages (``steps_list``, ``steps_record``,
``messages_send``): two texts on each record, swapped under the store's lock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskbasket.backends.memory.store import MemoryStore, Record
from taskbasket.backends.params import stored_state
from taskbasket.backends.step_params import (
    MessagesSendParams,
    StepsListParams,
    StepsRecordParams,
    StoredSteps,
)
from taskbasket.task import State


class MemorySteps:
    """The step and message operations of the memory store (mixed into its backend)."""

    store: MemoryStore

    if TYPE_CHECKING:
        def _leased(self, task_id: str, token: str) -> Record | None: ...

    def steps_list(self, params: StepsListParams) -> StoredSteps | None:
        with self.store.condition:
            record = self.store.tasks.get(params.task_id)
            if record is None:
                return None
            return StoredSteps(stored_state(record.id, record.state_value), record.steps,
                               record.messages)

    def steps_record(self, params: StepsRecordParams) -> bool:
        with self.store.condition:
            record = self._leased(params.lease.task_id, params.lease.token)
            swap = params.messages
            if record is None or (swap is not None and record.messages != swap.expected):
                return False
            record.steps = params.steps
            if swap is not None:
                record.messages = swap.new
            return True

    def messages_send(self, params: MessagesSendParams) -> bool:
        store = self.store
        with store.condition:
            record = store.tasks.get(params.task_id)
            swap = params.messages
            if record is None or record.final or record.messages != swap.expected:
                return False
            record.messages = swap.new
            if params.wake and record.state_value == State.SCHEDULED:
                now = store.clock.time()
                store.change(record, now, run_at=now)
                store.wake()
            return True


__all__ = ["MemorySteps"]
