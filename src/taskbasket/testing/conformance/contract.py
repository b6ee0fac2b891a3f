"""``BackendContract``: the promises of the Backend seam, one test method each.

Every test opens a new, empty store with ``open_backend`` (migrated here), and closes it
and calls ``drop_backend`` after. The tests call the seam only (``tasks_insert``,
``tasks_claim``, ``tasks_finish``, ``leases_*``, ...), never a worker, so a failure names
the operation that broke its promise.
"""

from __future__ import annotations

import unittest
from typing import Any

from taskbasket.backends.base import (
    Backend,
    CancelParams,
    ClaimOrder,
    ClaimParams,
    CountByNameParams,
    Lease,
    LeaseExtendParams,
    LeaseRescue,
    LeasesExpiredParams,
    LeasesRescueParams,
    ListParams,
    Outcome,
    OutcomeKind,
    PollingListener,
    PromoteParams,
    PruneParams,
    RescueKind,
    StoredTask,
    TaskFilter,
)
from taskbasket.task import State
from taskbasket.testing.conformance.helpers import claim_one, new_task, wait_until
from taskbasket.testing.conformance.schedules import ScheduleContract
from taskbasket.testing.conformance.stored import LeaderContract


class BackendContract(LeaderContract, ScheduleContract):
    """Subclass it (its name must start with ``Test`` for pytest) and implement
    ``open_backend``; override ``drop_backend`` to remove what it made."""

    backend: Backend

    def open_backend(self) -> Backend:
        """A new, empty store that no other test shares (not yet migrated)."""
        raise NotImplementedError("implement open_backend() in your BackendContract subclass")

    def drop_backend(self, backend: Backend) -> None:
        """Remove what ``open_backend`` made; called after ``close``. Default: nothing."""

    def setup_method(self, method: Any = None) -> None:
        self.backend = self.open_backend()
        self.backend.migrate()

    def teardown_method(self, method: Any = None) -> None:
        self.backend.close()
        self.drop_backend(self.backend)

    def need(self, *flags: str) -> None:
        """Skip unless the backend's ``capabilities`` has every flag (fields or flag
        properties of Capabilities)."""
        capabilities = self.backend.capabilities
        missing = [flag for flag in flags if not getattr(capabilities, flag)]
        if missing:
            raise unittest.SkipTest(
                f"{type(self.backend).__name__} lacks {', '.join(missing)} (Capabilities)")

    def stored(self, task_id: str) -> StoredTask:
        found = self.backend.tasks_get(task_id)
        assert isinstance(found, StoredTask), f"task {task_id}: {found!r}"
        return found

    # ------------------------------------------------------------------ claims

    def test_a_claim_hands_out_a_due_task_once_with_a_lease(self) -> None:
        [ref] = self.backend.tasks_insert([new_task(payload='{"n": 1}')])
        claimed = claim_one(self.backend)
        assert (claimed.id, claimed.payload, claimed.attempts) == (ref.id, '{"n": 1}', 1)
        assert claimed.lease_token
        assert self.backend.tasks_claim(ClaimParams("contract", None, 10, 30.0)) == []

    def test_a_claim_takes_only_the_names_asked_for(self) -> None:
        self.backend.tasks_insert([new_task("a"), new_task("b")])
        assert self.backend.tasks_claim(ClaimParams("contract", [], 10, 30.0)) == []
        # a transport with one consumer dead-letters a task no claim asks for instead
        self.need("many_workers")
        # a bus may need more than one call to get past the message of another name
        [claimed] = wait_until(lambda: self.backend.tasks_claim(
            ClaimParams("contract", ["b"], 10, 30.0)), 10, "the task named b")
        assert claimed.name == "b"

    def test_a_future_task_is_not_claimed(self) -> None:
        self.need("task_records")
        [ref] = self.backend.tasks_insert([new_task(delay=3600)])
        assert self.backend.tasks_claim(ClaimParams("contract", None, 10, 30.0)) == []
        assert self.stored(ref.id).state is State.SCHEDULED

    def test_higher_priority_is_claimed_first(self) -> None:
        self.need("priority")
        low, high = new_task(priority=-5), new_task(priority=7)
        self.backend.tasks_insert([low, high])
        assert claim_one(self.backend).id == high.id

    def test_created_order_ignores_priority(self) -> None:
        self.need("created_order")
        first, second = new_task(priority=-5), new_task(priority=7)
        self.backend.tasks_insert([first, second])
        assert claim_one(self.backend, order=ClaimOrder.CREATED).id == first.id

    def test_a_unique_key_returns_the_task_that_holds_it(self) -> None:
        self.need("unique_keys")
        [first] = self.backend.tasks_insert([new_task(unique_key="k")])
        [again] = self.backend.tasks_insert([new_task(unique_key="k")])
        assert (again.id, again.created) == (first.id, False)

    # ------------------------------------------------------------------ leases, outcomes

    def test_only_current_leases_are_extended(self) -> None:
        self.backend.tasks_insert([new_task()])
        claimed = claim_one(self.backend)
        held = self.backend.leases_extend(
            LeaseExtendParams([claimed.lease, Lease(claimed.id, "forged")], 60.0))
        assert held == {claimed.id}

    def test_an_outcome_under_a_stale_token_is_refused(self) -> None:
        self.backend.tasks_insert([new_task()])
        claimed = claim_one(self.backend)
        stale = Outcome(Lease(claimed.id, "forged"), OutcomeKind.SUCCEEDED)
        assert self.backend.tasks_finish([stale]) == [False]
        assert self.backend.tasks_finish([Outcome(claimed.lease, OutcomeKind.SUCCEEDED)]) == [
            True]
        again = self.backend.tasks_finish([Outcome(claimed.lease, OutcomeKind.FAILED)])
        if self.backend.capabilities.task_records:  # a bus answers again as it first did
            assert again == [False], "a second outcome for one claim must be refused"
            assert self.stored(claimed.id).state is State.SUCCEEDED

    def test_outcomes_set_the_state_and_error(self) -> None:
        self.need("task_records")
        self.backend.tasks_insert([new_task(), new_task()])
        one, two = claim_one(self.backend), claim_one(self.backend)
        assert self.backend.tasks_finish([
            Outcome(one.lease, OutcomeKind.SUCCEEDED),
            Outcome(two.lease, OutcomeKind.FAILED, error="ValueError: no"),
        ]) == [True, True]
        assert self.stored(one.id).state is State.SUCCEEDED
        failed = self.stored(two.id)
        assert (failed.state, failed.last_error) == (State.FAILED, "ValueError: no")
        assert failed.finished_at is not None

    def test_a_retry_waits_out_its_delay_then_runs_again(self) -> None:
        self.need("task_records")
        self.backend.tasks_insert([new_task()])
        claimed = claim_one(self.backend)
        self.backend.tasks_finish([Outcome(claimed.lease, OutcomeKind.RETRY, error="later",
                                           retry_delay=0.3)])
        stored = self.stored(claimed.id)
        assert (stored.state, stored.last_error) == (State.RETRYING, "later")
        assert self.backend.tasks_claim(ClaimParams("contract", None, 1, 30.0)) == []
        again = wait_until(lambda: self.backend.tasks_claim(
            ClaimParams("contract", None, 1, 30.0)), 10, "the retry to come due")
        assert (again[0].id, again[0].attempts) == (claimed.id, 2)

    def test_a_released_task_is_queued_with_its_attempt_not_counted(self) -> None:
        self.backend.tasks_insert([new_task()])
        claimed = claim_one(self.backend)
        assert self.backend.tasks_finish([Outcome(claimed.lease, OutcomeKind.RELEASED)]) == [
            True]
        again = claim_one(self.backend)
        assert (again.id, again.attempts) == (claimed.id, 1)

    def test_delete_on_success_leaves_no_row(self) -> None:
        self.need("task_records")
        self.backend.tasks_insert([new_task()])
        claimed = claim_one(self.backend)
        self.backend.tasks_finish([Outcome(claimed.lease, OutcomeKind.SUCCEEDED,
                                           delete_on_success=True)])
        assert self.backend.tasks_get(claimed.id) is None

    # ------------------------------------------------------------------ expired leases

    def test_an_expired_lease_is_found_with_what_the_rescuer_needs(self) -> None:
        self.need("lease_expiry")
        [ref] = self.backend.tasks_insert([new_task("expires", queue="q1", max_attempts=3)])
        claimed = claim_one(self.backend, lease_seconds=0.2)
        [expired] = wait_until(lambda: self.backend.leases_expired(LeasesExpiredParams()),
                               10, "the lease to expire")
        assert (expired.id, expired.lease_token, expired.name, expired.queue) == (
            ref.id, claimed.lease_token, "expires", "q1")
        assert (expired.attempts, expired.max_attempts) == (1, 3)
        assert self.stored(ref.id).state is State.RUNNING, "finding must change nothing"

    def test_a_rescue_applies_the_decision_and_is_fenced(self) -> None:
        self.need("lease_expiry")
        self.backend.tasks_insert([new_task(), new_task()])
        requeue, fail = claim_one(self.backend, 0.2), claim_one(self.backend, 0.2)
        wait_until(lambda: len(self.backend.leases_expired(LeasesExpiredParams())) == 2,
                   10, "both leases to expire")
        assert self.backend.leases_rescue(LeasesRescueParams([
            LeaseRescue(requeue.lease, RescueKind.REQUEUE, "lease expired"),
            LeaseRescue(fail.lease, RescueKind.FAIL, "lease expired on the last attempt"),
            LeaseRescue(Lease(requeue.id, "forged"), RescueKind.FAIL, "stale"),
        ])) == [True, True, False]
        assert self.stored(requeue.id).state is State.QUEUED
        failed = self.stored(fail.id)
        assert (failed.state, failed.last_error) == (
            State.FAILED, "lease expired on the last attempt")
        assert self.backend.leases_rescue(LeasesRescueParams([
            LeaseRescue(requeue.lease, RescueKind.FAIL, "again")])) == [False]

    def test_a_renewed_lease_is_not_rescued(self) -> None:
        self.need("lease_expiry")
        self.backend.tasks_insert([new_task()])
        claimed = claim_one(self.backend, 0.2)
        [expired] = wait_until(lambda: self.backend.leases_expired(LeasesExpiredParams()),
                               10, "the lease to expire")
        assert self.backend.leases_extend(LeaseExtendParams([claimed.lease], 60.0)) == {
            claimed.id}
        assert self.backend.leases_rescue(LeasesRescueParams([
            LeaseRescue(expired.lease, RescueKind.FAIL, "too late")])) == [False]
        assert self.stored(claimed.id).state is State.RUNNING

    # ------------------------------------------------------------------ promote, prune

    def test_promote_makes_due_future_tasks_queued(self) -> None:
        self.need("task_records", "lease_expiry")
        [ref] = self.backend.tasks_insert([new_task(delay=0.2)])
        assert self.stored(ref.id).state is State.SCHEDULED
        wait_until(lambda: self.backend.tasks_promote(PromoteParams()), 10,
                   "the task to be promoted")
        assert self.stored(ref.id).state is State.QUEUED

    def test_prune_deletes_only_old_final_tasks_of_the_states_given(self) -> None:
        self.need("task_records", "lease_expiry")
        self.backend.tasks_insert([new_task(), new_task(), new_task()])
        done, failed = claim_one(self.backend), claim_one(self.backend)
        self.backend.tasks_finish([Outcome(done.lease, OutcomeKind.SUCCEEDED),
                                   Outcome(failed.lease, OutcomeKind.FAILED, error="x")])
        older_than = {State.SUCCEEDED: 0.05, State.FAILED: 3600.0}
        wait_until(lambda: self.backend.tasks_prune(PruneParams(older_than)), 10,
                   "the succeeded task to be pruned")
        assert self.backend.tasks_get(done.id) is None
        assert self.stored(failed.id).state is State.FAILED
        assert self.backend.tasks_count(TaskFilter()) == 2

    # ------------------------------------------------------------------ inspection, operators

    def test_listing_is_newest_first_with_a_cursor(self) -> None:
        self.need("task_records")
        tasks = [new_task(f"t{i}") for i in range(5)]
        for task in tasks:  # one at a time: ids are made in order, so created in order
            self.backend.tasks_insert([task])
        first = self.backend.tasks_list(ListParams(limit=3))
        rest = self.backend.tasks_list(ListParams(limit=3, before_id=first[-1].id))
        assert [t.id for t in [*first, *rest]] == [t.id for t in reversed(tasks)]

    def test_counts_and_filters(self) -> None:
        self.need("task_records")
        self.backend.tasks_insert([new_task("a", queue="q1"), new_task("a", queue="q2"),
                                   new_task("b", queue="q1", delay=3600)])
        assert self.backend.tasks_count(TaskFilter(queues=["q1"])) == 2
        assert self.backend.tasks_count(TaskFilter(states=[State.SCHEDULED])) == 1
        assert self.backend.tasks_count(TaskFilter(ids=[])) == 0
        assert self.backend.tasks_count(TaskFilter(ids=["not-a-task-id"])) == 0
        assert self.backend.tasks_stats() == {("q1", State.QUEUED): 1, ("q2", State.QUEUED): 1,
                                              ("q1", State.SCHEDULED): 1}
        assert self.backend.tasks_count_by_name(CountByNameParams([State.QUEUED])) == {"a": 2}

    def test_retry_cancel_and_delete_by_filter(self) -> None:
        self.need("task_records")
        self.backend.tasks_insert([new_task("f"), new_task("c"), new_task("d")])
        failing = claim_one(self.backend, names=["f"])
        self.backend.tasks_finish([Outcome(failing.lease, OutcomeKind.FAILED, error="x")])
        assert self.backend.tasks_retry(TaskFilter(ids=[failing.id])) == 1
        assert self.stored(failing.id).state is State.QUEUED
        assert self.backend.tasks_cancel(CancelParams(TaskFilter(names=["c"]), "why")) == 1
        assert self.backend.tasks_count(TaskFilter(states=[State.CANCELLED])) == 1
        assert self.backend.tasks_delete(TaskFilter(names=["d"])) == 1
        assert self.backend.tasks_count(TaskFilter()) == 2

    def test_a_cancel_fences_the_running_attempt_and_wakes_cancel_listeners(self) -> None:
        self.need("cancel_running")
        self.backend.tasks_insert([new_task("r")])
        listener = self.backend.cancel_listener()
        try:
            listener.wait(0.05)  # a first wait may say "maybe missed" (it just subscribed)
            running = claim_one(self.backend)
            cancel = CancelParams(TaskFilter(ids=[running.id]), "stop it")
            assert self.backend.tasks_cancel(cancel) == 1
            stored = self.stored(running.id)
            assert (stored.state, stored.last_error) == (State.CANCELLED, "stop it")
            late = Outcome(running.lease, OutcomeKind.SUCCEEDED, result="1")
            assert self.backend.tasks_finish([late]) == [False]
            assert self.backend.leases_extend(LeaseExtendParams([running.lease], 30)) == set()
            assert self.stored(running.id).result is None
            if not isinstance(listener, PollingListener):
                assert listener.wait(5), "the cancel did not wake the cancel listener"
        finally:
            listener.close()

    def test_an_unknown_id_is_none(self) -> None:
        self.need("task_records")
        assert self.backend.tasks_get("0190d4e5-0000-7000-8000-000000000000") is None
        assert self.backend.tasks_get("not-an-id") is None


__all__ = ["BackendContract"]
