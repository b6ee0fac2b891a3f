"""Workflows (#23, dependencies and canvas) on every store: ``after=`` keeps a task
``waiting`` until its dependencies succeed and releases it in the step that records the
last success; chains hand each step the previous result, groups the list of theirs; a
failed or cancelled dependency cancels its waiting dependents (transitively), a retry of
it brings them back; a workflow is listed and cancelled as a whole; bad input inserts
nothing. The transports refuse workflows, naming themselves."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from taskbasket import (
    Basket,
    GroupRef,
    State,
    TaskFailed,
    WorkflowError,
    chain,
    group,
)
from taskbasket.backends.base import NewTask, Outcome, OutcomeKind
from taskbasket.backends.workflow_params import DependenciesListParams
from taskbasket.dependencies import check_acyclic
from tests.conformance.test_enqueue import claim
from tests.helpers import maintain, wait_for

pytestmark = pytest.mark.needs("workflows")


def tasks(basket: Basket) -> dict[str, Any]:
    @basket.task
    def add(x: int, y: int = 0) -> int:
        return x + y

    @basket.task
    def total(values: list[int]) -> int:
        return sum(values)

    @basket.task
    def constant() -> str:
        return "constant"

    @basket.task(max_attempts=1)
    def boom(n: int = 0) -> None:
        raise ValueError(f"boom {n}")

    return {"add": add, "total": total, "constant": constant, "boom": boom}


def state(basket: Basket, task_id: str) -> State:
    task = basket.get(task_id)
    assert task is not None
    return task.state


def run(basket: Basket) -> None:
    basket.worker(concurrency=4, visibility_timeout=10, poll_interval=0.05
                  ).run_until_empty(timeout=60)


def finish(basket: Basket, task_id: str, kind: OutcomeKind = OutcomeKind.SUCCEEDED,
           result: str | None = "1", error: str | None = None) -> None:
    """Claim ``task_id`` (it must be due) and record ``kind`` for it."""
    claimed = {c.id: c for c in claim(basket, limit=50)}
    assert task_id in claimed, f"{task_id} was not claimable"
    outcomes = [Outcome(c.lease, OutcomeKind.RELEASED) for i, c in claimed.items() if i != task_id]
    outcomes.append(Outcome(claimed[task_id].lease, kind, result=result, error=error))
    assert all(basket.backend.tasks_finish(outcomes))


def test_a_task_waits_for_its_dependency_and_is_queued_by_its_success(basket: Basket) -> None:
    t = tasks(basket)
    a = t["add"].enqueue(1)
    b = t["add"].options(after=[a]).enqueue(2)
    assert state(basket, b.id) is State.WAITING
    assert b.workflow_id == a.id and basket.get(b.id).workflow_id == a.id  # type: ignore[union-attr]
    [claimed] = claim(basket)  # a waiting task is never claimed
    assert claimed.id == a.id
    assert basket.backend.tasks_finish([Outcome(claimed.lease, OutcomeKind.RELEASED)])
    run(basket)
    assert state(basket, a.id) is State.SUCCEEDED and state(basket, b.id) is State.SUCCEEDED


def test_fan_in_is_queued_by_the_last_success_only(basket: Basket) -> None:
    t = tasks(basket)
    a, b = t["add"].enqueue(1), t["add"].enqueue(2)
    c = t["total"].options(after=[a, b.id]).enqueue([0])
    finish(basket, a.id)
    assert state(basket, c.id) is State.WAITING
    finish(basket, b.id)
    assert state(basket, c.id) is State.QUEUED
    workflow = basket.workflow(a.id)
    assert {task.id for task in workflow} == {a.id, c.id}
    assert workflow.dependencies[c.id] == [a.id, b.id]


def test_a_dependency_already_succeeded_counts_as_done(basket: Basket) -> None:
    t = tasks(basket)
    a = t["add"].enqueue(1)
    run(basket)
    b = t["add"].options(after=[a]).enqueue(2)
    assert state(basket, b.id) is State.QUEUED


def test_a_chain_hands_each_step_the_previous_result(basket: Basket) -> None:
    t = tasks(basket)
    ref = chain(t["add"].s(1, 2), t["add"].s(10), t["add"].s(y=100)).enqueue()
    assert ref.workflow_id is not None
    run(basket)
    assert ref.result(timeout=10) == 113
    workflow = basket.workflow(ref.workflow_id)
    assert [task.state for task in workflow] == [State.SUCCEEDED] * 3
    first, second, third = (task.id for task in workflow)
    assert workflow.dependencies == {first: [], second: [first], third: [second]}
    assert workflow.state is State.SUCCEEDED


def test_a_group_hands_the_list_of_its_results_in_order(basket: Basket) -> None:
    t = tasks(basket)
    ref = chain(t["add"].s(1), group(t["add"].s(i) for i in range(5)), t["total"].s()).enqueue()
    run(basket)
    assert ref.result(timeout=10) == sum(1 + i for i in range(5))
    alone = group(t["add"].s(i, i) for i in range(4)).enqueue()
    assert isinstance(alone, GroupRef) and len(alone.refs) == 4
    run(basket)
    assert alone.result(timeout=10) == [0, 2, 4, 6]


def test_a_workflow_is_enqueued_from_async_code(basket: Basket) -> None:
    t = tasks(basket)
    ref = asyncio.run(chain(t["add"].s(1), t["add"].s(2)).enqueue_async())
    run(basket)
    assert asyncio.run(ref.result_async(timeout=10)) == 3
    alone = asyncio.run(group(t["add"].s(1), t["add"].s(2)).enqueue_async())
    run(basket)
    assert asyncio.run(alone.result_async(timeout=10)) == [1, 2]


def test_si_receives_nothing(basket: Basket) -> None:
    t = tasks(basket)
    ref = chain(t["add"].s(1), t["constant"].si()).enqueue()
    run(basket)
    assert ref.result(timeout=10) == "constant"


def test_a_failure_cancels_the_waiting_dependents_transitively(basket: Basket) -> None:
    t = tasks(basket)
    ref = chain(t["boom"].s(7), t["add"].s(), t["add"].s()).enqueue()
    run(basket)
    assert ref.workflow_id is not None
    workflow = basket.workflow(ref.workflow_id)
    failed, middle, last = workflow.tasks
    assert [failed.state, middle.state, last.state] == [
        State.FAILED, State.CANCELLED, State.CANCELLED]
    assert middle.last_error is not None and failed.id in middle.last_error
    assert "boom" in middle.last_error and "ValueError: boom 7" in middle.last_error
    assert last.last_error is not None and middle.id in last.last_error
    with pytest.raises(TaskFailed):
        ref.result(timeout=5)
    assert workflow.state is State.FAILED


def test_retrying_the_failed_dependency_brings_its_dependents_back(basket: Basket) -> None:
    t = tasks(basket)
    a = t["add"].enqueue(1)
    failing = t["boom"].options(after=[a]).enqueue()
    b = t["add"].options(after=[failing]).enqueue(1)
    c = t["add"].options(after=[b, a]).enqueue(2)
    run(basket)
    assert [state(basket, i) for i in (a.id, failing.id, b.id, c.id)] == [
        State.SUCCEEDED, State.FAILED, State.CANCELLED, State.CANCELLED]
    assert basket.retry(failing.id) == 1
    assert [state(basket, i) for i in (failing.id, b.id, c.id)] == [
        State.QUEUED, State.WAITING, State.WAITING]
    assert basket.get(b.id).last_error is None  # type: ignore[union-attr]
    finish(basket, failing.id)  # this time it succeeds
    assert state(basket, b.id) is State.QUEUED
    run(basket)
    assert state(basket, c.id) is State.SUCCEEDED


@pytest.mark.needs("edit_retry")
def test_an_edit_and_retry_of_the_failed_dependency_brings_its_dependents_back(
    basket: Basket,
) -> None:
    t = tasks(basket)
    failing = t["boom"].enqueue()
    b = t["add"].options(after=[failing]).enqueue(1)
    run(basket)
    assert [state(basket, i) for i in (failing.id, b.id)] == [State.FAILED, State.CANCELLED]
    assert basket.retry(failing.id, priority=5) == 1
    assert [state(basket, i) for i in (failing.id, b.id)] == [State.QUEUED, State.WAITING]
    assert basket.get(failing.id).priority == 5  # type: ignore[union-attr]
    finish(basket, failing.id)
    assert state(basket, b.id) is State.QUEUED


def test_a_cancelled_dependency_cancels_too(basket: Basket) -> None:
    t = tasks(basket)
    a = t["add"].enqueue(1)
    b = t["add"].options(after=[a]).enqueue(1)
    assert basket.cancel(a.id) == 1
    task = basket.get(b.id)
    assert task is not None and task.state is State.CANCELLED
    assert task.last_error is not None and a.id in task.last_error
    assert "ended cancelled" in task.last_error
    late = t["add"].options(after=[a]).enqueue(1)  # after a dependency already cancelled
    assert state(basket, late.id) is State.CANCELLED


@pytest.mark.needs("lease_expiry")
def test_a_dependency_failed_by_its_expired_lease_cancels_its_dependents(basket: Basket) -> None:
    t = tasks(basket)
    a = t["boom"].enqueue()
    b = t["add"].options(after=[a]).enqueue(1)
    [claimed] = claim(basket, lease=0.2)
    assert claimed.id == a.id
    wait_for(lambda: maintain(basket.backend).failed, 10, "the lease to expire")
    assert state(basket, a.id) is State.FAILED
    assert state(basket, b.id) is State.CANCELLED


def test_cancel_a_whole_workflow_and_list_it(basket: Basket) -> None:
    t = tasks(basket)
    ref = chain(t["add"].s(1), group(t["add"].s(), t["add"].s()), t["total"].s()).enqueue()
    other = t["add"].enqueue(5)
    assert ref.workflow_id is not None
    workflow = basket.workflow(ref.workflow_id)
    assert len(workflow) == 4 and [task.state for task in workflow] == [
        State.QUEUED, State.WAITING, State.WAITING, State.WAITING]
    first = workflow.tasks[0]
    assert workflow.dependents(first.id) == [workflow.tasks[1].id, workflow.tasks[2].id]
    assert basket.cancel(workflow_id=ref.workflow_id) == 4
    assert {task.state for task in basket.workflow(ref.workflow_id)} == {State.CANCELLED}
    assert state(basket, other.id) is State.QUEUED
    with pytest.raises(LookupError):
        basket.workflow("01890000-0000-7000-8000-000000000000")


def test_an_unknown_dependency_inserts_nothing(basket: Basket) -> None:
    t = tasks(basket)
    missing = "01890000-0000-7000-8000-000000000000"
    with pytest.raises(WorkflowError, match=missing):
        t["add"].options(after=[missing]).enqueue(1)
    with pytest.raises(WorkflowError, match=missing):
        chain(t["add"].s(1), t["add"].options(after=[missing]).s(), t["add"].s()).enqueue()
    assert basket.count() == 0


def test_the_store_refuses_an_unknown_dependency_atomically(basket: Basket) -> None:
    new = [NewTask(id=f"01890000-0000-7000-8000-00000000000{i}", name="add", queue="default",
                   payload='{"args":[1],"kwargs":{}}') for i in range(3)]
    bad = NewTask(id="01890000-0000-7000-8000-000000000009", name="add", queue="default",
                  payload='{"args":[1],"kwargs":{}}',
                  depends_on=(new[0].id, "01890000-0000-7000-8000-0000000000ff"))
    with pytest.raises(WorkflowError):
        basket.backend.tasks_insert([*new, bad])
    assert basket.count() == 0


def test_a_dependency_in_another_store_is_refused(basket: Basket, tmp_path: Any) -> None:
    t = tasks(basket)
    with Basket(f"sqlite:///{tmp_path}/other.db") as other:
        @other.task(name="add")
        def add(x: int) -> int:
            return x

        foreign = add.enqueue(1)
        with pytest.raises(WorkflowError, match="another store"):
            t["add"].options(after=[foreign]).enqueue(1)
    assert basket.count() == 0


def test_a_cycle_is_refused() -> None:
    with pytest.raises(WorkflowError, match="cycle"):
        check_acyclic({"a": ["b"], "b": ["c"], "c": ["a"], "d": []})
    check_acyclic({"a": [], "b": ["a"], "c": ["a", "b", "stored"]})


def test_after_with_delay_or_a_chain_of_nothing_is_refused(basket: Basket) -> None:
    t = tasks(basket)
    a = t["add"].enqueue(1)
    with pytest.raises(ValueError, match="delay"):
        t["add"].options(after=[a], delay=5).enqueue(1)
    with pytest.raises(ValueError, match="at least one"):
        chain()
    with pytest.raises(TypeError, match="argument"):
        chain(t["add"].s(1), t["add"].s(1, 2)).enqueue()  # add takes 2: received + 2 is 3
    assert basket.count() == 1


def test_a_deleted_task_takes_its_edges_along(basket: Basket) -> None:
    t = tasks(basket)
    a = t["add"].enqueue(1)
    b = t["add"].options(after=[a]).enqueue(1)
    run(basket)
    assert basket.backend.dependencies_list(DependenciesListParams([b.id])) == {b.id: [a.id]}
    assert basket.delete(b.id) == 1
    assert basket.backend.dependencies_list(DependenciesListParams([b.id])) == {b.id: []}


def test_a_step_whose_input_was_deleted_fails_saying_why(basket: Basket) -> None:
    @basket.task(delete_on_success=True)
    def vanish() -> int:
        return 1

    t = tasks(basket)
    ref = chain(vanish.s(), t["add"].s()).enqueue()
    run(basket)
    task = basket.get(ref.id)
    assert task is not None and task.state is State.FAILED
    assert "receives the result of" in (task.last_error or "")
    assert "delete_on_success" in (task.last_error or "")


def test_explain_names_the_dependencies_a_waiting_task_waits_for(basket: Basket) -> None:
    t = tasks(basket)
    first = t["add"].enqueue(1)
    done = t["add"].enqueue(2)
    claimed = claim(basket, 5)
    finished = [c for c in claimed if c.id == done.id]
    basket.backend.tasks_finish([Outcome(finished[0].lease, OutcomeKind.SUCCEEDED)])
    waiting = t["add"].options(after=[first, done]).enqueue(3)
    answer = basket.explain(waiting.id)
    assert answer.state is State.WAITING and answer.kind == "waiting"
    assert answer.details["pending"] == [first.id]
    assert first.id in answer.reason and "1 of its 2 dependencies" in answer.reason


@pytest.mark.needs("flow_control")
def test_waiting_tasks_take_no_slot_of_a_concurrency_limit(basket: Basket) -> None:
    from tests.conformance.test_flow_control import claim as limited_claim
    from tests.conformance.test_flow_control import finish

    @basket.task(queue="q")
    def job(n: int) -> None: ...

    first = job.enqueue(0)
    waiting = [job.options(after=[first]).enqueue(n) for n in (1, 2, 3)]
    basket.configure_queue("q", concurrency=2)
    running = limited_claim(basket)
    assert [t.id for t in running] == [first.id]  # three waiting tasks hold no slot
    free = job.enqueue(4)
    second = limited_claim(basket)
    assert [t.id for t in second] == [free.id]
    assert limited_claim(basket) == []  # two running: full
    finish(basket, running + second)  # the dependents are queued now
    third = limited_claim(basket)
    assert len(third) == 2 and {t.id for t in third} <= {ref.id for ref in waiting}


@pytest.mark.needs("flow_control")
def test_a_released_keyed_task_is_claimed_under_its_key_limit(basket: Basket) -> None:
    from tests.conformance.test_flow_control import claim as limited_claim
    from tests.conformance.test_flow_control import finish

    @basket.task(concurrency=1, limit_key=lambda account: f"acct:{account}")
    def sync(account: int) -> None: ...

    first = sync.enqueue(1)
    later = [sync.options(after=[first]).enqueue(account) for account in (1, 1, 2)]
    running = limited_claim(basket, limit=50)
    assert [t.id for t in running] == [first.id]
    finish(basket, running)  # all three queued: one per key may run
    released = limited_claim(basket, limit=50)
    assert sorted(t.limit_key or "" for t in released) == ["acct:1", "acct:2"]
    assert {t.id for t in released} <= {ref.id for ref in later}
