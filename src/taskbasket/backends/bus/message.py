"""A task as a message bus (or a task file) carries it: one JSON message per task."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from taskbasket.backends.base import ClaimedTask, NewTask, StoredTask, TaskFilter
from taskbasket.errors import StoreCorruptedError
from taskbasket.storable import storable_text
from taskbasket.task import State


@dataclass(frozen=True, slots=True)
class TaskMessage:
    """A task as a bus carries it: the JSON body of one message (message id = task id).

    ``attempts`` counts the attempts made before this message was published; times are
    Unix seconds. Dead letters carry ``last_error`` and ``failed_at``.
    """

    id: str
    name: str
    queue: str
    payload: str
    priority: int
    max_attempts: int
    timeout: float
    attempts: int
    created_at: float
    run_at: float
    last_error: str | None = None
    failed_at: float | None = None

    @classmethod
    def from_new(cls, task: NewTask, now: float) -> TaskMessage:
        run_at = task.run_at.timestamp() if task.run_at is not None else now + task.delay
        return cls(
            id=task.id, name=task.name, queue=task.queue, payload=task.payload,
            priority=task.priority, max_attempts=task.max_attempts, timeout=task.timeout,
            attempts=0, created_at=now, run_at=run_at,
        )

    def encode(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes, where: str) -> TaskMessage:
        try:
            fields = json.loads(data)
            return cls(**fields)
        except (ValueError, TypeError) as exc:
            raise StoreCorruptedError(
                f"a message in {where} is not a taskbasket task ({exc}); it was moved to the "
                "dead-letter queue. Publish only taskbasket tasks to taskbasket's queues"
            ) from None

    def but(self, **changes: Any) -> TaskMessage:
        return replace(self, **changes)

    def claimed(self, attempts: int, token: str) -> ClaimedTask:
        return ClaimedTask(
            id=self.id, name=self.name, queue=self.queue, payload=self.payload,
            priority=self.priority, attempts=attempts, max_attempts=self.max_attempts,
            timeout=self.timeout, lease_token=token, created_at=_time(self.created_at),
            run_at=_time(self.run_at),
        )

    def stored(self, state: State) -> StoredTask:
        return StoredTask(
            id=self.id, name=self.name, queue=self.queue, state=state, payload=self.payload,
            priority=self.priority, attempts=self.attempts, max_attempts=self.max_attempts,
            timeout=self.timeout, unique_key=None, last_error=self.last_error,
            created_at=_time(self.created_at), run_at=_time(self.run_at), started_at=None,
            finished_at=_time(self.failed_at) if self.failed_at else None,
            lease_expires_at=None, worker_id=None,
        )

    def matches(self, task_filter: TaskFilter) -> bool:
        return (
            (not task_filter.ids or self.id in task_filter.ids)
            and (not task_filter.queues or self.queue in task_filter.queues)
            and (not task_filter.names or self.name in task_filter.names)
        )


def corrupt_message(message_id: str | None, queue: str, data: bytes, error: str) -> TaskMessage:
    """A dead letter standing for a message that is not a task, keeping its body as text."""
    now = time.time()
    return TaskMessage(
        id=message_id or "unknown", name="(not a task)", queue=queue,
        payload=data.decode("utf-8", "replace"), priority=0, max_attempts=1, timeout=1.0,
        attempts=0, created_at=now, run_at=now, last_error=storable_text(error), failed_at=now,
    )


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
