"""A claimed task carries the fields of both flow control (its limit_key) and snoozes and
history, on every store and on both claim paths: the ordinary claim and the limited one
(which a task's ``concurrency`` makes the worker use)."""

from __future__ import annotations

import pytest

from taskbasket import Basket
from taskbasket.backends.base import ClaimedTask, ClaimParams, Outcome, OutcomeKind
from taskbasket.worker.limiter import ClaimLimiter

pytestmark = pytest.mark.needs("flow_control", "snooze", "history")

HISTORY = '[{"kind": "edit"}]'


def _claim(basket: Basket, limited: bool) -> list[ClaimedTask]:
    limiter = ClaimLimiter(basket, basket.backend)
    names = sorted(basket.registry)
    claimed = basket.backend.tasks_claim(ClaimParams(
        worker_id="w", names=names, limit=10, lease_seconds=30.0,
        limits=limiter.limits(names) if limited else None))
    limiter.served(claimed)
    return claimed


@pytest.mark.parametrize("limited", [False, True], ids=["ordinary", "limited"])
def test_a_claimed_task_carries_limit_key_snoozes_and_history(
    basket: Basket, limited: bool
) -> None:
    @basket.task(concurrency=5, limit_key=lambda account: f"acct:{account}")
    def charge(account: int) -> None: ...

    charge.enqueue(7)
    (first,) = _claim(basket, limited)
    assert first.limit_key == "acct:7" and first.snoozes == 0 and first.history is None
    # a snooze: due again now, its count grown and the history written in the same step
    assert basket.backend.tasks_finish([Outcome(
        first.lease, OutcomeKind.DEFERRED, retry_delay=0.0, history=HISTORY,
        snoozes_added=1)]) == [True]
    (again,) = _claim(basket, limited)
    assert again.id == first.id
    assert (again.limit_key, again.snoozes, again.history) == ("acct:7", 1, HISTORY)
