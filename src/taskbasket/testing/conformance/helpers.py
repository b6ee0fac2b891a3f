"""Small helpers of the contract tests: build a task, claim it, wait on a condition."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from taskbasket.backends.base import Backend, ClaimedTask, ClaimParams, NewTask
from taskbasket.ids import new_task_id

T = TypeVar("T")


def new_task(name: str = "contract.task", **fields: object) -> NewTask:
    """A task with a fresh id and ``{}`` arguments; ``fields`` override NewTask's."""
    values: dict[str, object] = {"id": new_task_id(), "name": name, "queue": "default",
                                 "payload": "{}"}
    values.update(fields)
    return NewTask(**values)  # type: ignore[arg-type]


def claim_one(backend: Backend, lease_seconds: float = 30.0, **fields: object) -> ClaimedTask:
    """Claim exactly one due task (any name), failing the test if none is due."""
    params: dict[str, object] = {"worker_id": "contract", "names": None, "limit": 1,
                                 "lease_seconds": lease_seconds}
    params.update(fields)
    claimed = backend.tasks_claim(ClaimParams(**params))  # type: ignore[arg-type]
    assert len(claimed) == 1, f"expected one claimed task, got {claimed!r}"
    return claimed[0]


def wait_until(condition: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``condition`` until it returns something truthy; AssertionError naming
    ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


__all__ = ["claim_one", "new_task", "wait_until"]
