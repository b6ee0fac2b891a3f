"""Cheap inspection on every store: listings without arguments, counts per name.

Views that do not show a task's arguments (the dashboard's lists and polls) must not pay
for them: with large arguments, reading them was 52 MB per dashboard poll (issue 14, F9).
"""

from __future__ import annotations

import dataclasses

import pytest

from taskbasket import Basket, State
from taskbasket.backends.base import CountByNameParams, ListParams, Outcome, OutcomeKind
from taskbasket.backends.base import TaskFilter as Filter
from tests.conformance.test_enqueue import claim

pytestmark = pytest.mark.needs("task_records")  # listings and counts of stored tasks

BULKY = "x" * 50_000


def test_a_listing_without_payload_reads_everything_but_the_arguments(
    basket: Basket,
) -> None:
    @basket.task(queue="files")
    def upload(blob: str, n: int) -> None: ...

    refs = [upload.enqueue(BULKY, n) for n in range(5)]
    [running] = claim(basket, limit=1)  # the oldest, with its lease and worker
    basket.backend.tasks_finish([Outcome(running.lease, OutcomeKind.RETRY, error="boom",
                                         retry_delay=3600)])
    backend = basket.backend
    full = backend.tasks_list(ListParams(limit=10))
    light = backend.tasks_list(ListParams(limit=10, with_payload=False))
    assert [t.id for t in light] == [t.id for t in full] == [r.id for r in reversed(refs)]
    assert all(t.payload == "" for t in light)
    assert all(BULKY in t.payload for t in full)
    assert [dataclasses.replace(t, payload="") for t in full] == light
    assert light[-1].last_error == "boom" and light[-1].state == State.RETRYING

    # with filters, by id (Redis reads those one by one) and from a cursor
    ids = [refs[1].id, refs[3].id]
    by_id = backend.tasks_list(ListParams(Filter(ids=ids), limit=10, with_payload=False))
    assert [t.id for t in by_id] == [refs[3].id, refs[1].id]
    assert all(t.payload == "" for t in by_id)
    paged = backend.tasks_list(ListParams(Filter(states=[State.QUEUED]), limit=2,
                                          before_id=refs[3].id, with_payload=False))
    assert [t.id for t in paged] == [refs[2].id, refs[1].id]
    assert all(t.payload == "" for t in paged)

    # the client's view of the same: tasks whose arguments are left empty
    tasks = basket.list(limit=10, with_arguments=False)
    assert [t.id for t in tasks] == [t.id for t in full]
    assert all(t.args == [] and t.kwargs == {} and t.payload_error is None for t in tasks)
    one = basket.get(refs[0].id, with_arguments=False)
    whole = basket.get(refs[0].id)
    assert one is not None and whole is not None
    assert whole.args == [BULKY, 0] and one.args == [] and one.kwargs == {}
    assert dataclasses.replace(whole, args=[], kwargs={}) == one
    assert basket.get("0190b0d2-0000-7000-8000-000000000000", with_arguments=False) is None
    assert basket.get("not-an-id", with_arguments=False) is None


def test_count_by_name_is_a_grouped_count_per_state(basket: Basket) -> None:
    @basket.task(queue="emails")
    def send() -> None: ...

    @basket.task(queue="reports")
    def report() -> None: ...

    send.enqueue_many([()] * 3)
    send.options(queue="other").enqueue()
    report.options(delay=3600).enqueue_many([()] * 2)
    basket.enqueue("stranger", queue="emails", strict=False)
    [done] = claim(basket, limit=1, names=["stranger"])
    basket.backend.tasks_finish([Outcome(done.lease, OutcomeKind.SUCCEEDED)])

    def counts(*states: State) -> dict[str, int]:
        found = basket.backend.tasks_count_by_name(CountByNameParams(list(states)))
        return {name: n for name, n in found.items() if n}  # zeros may be absent

    assert counts(State.QUEUED) == {"send": 4}
    assert counts(State.QUEUED, State.SCHEDULED, State.RETRYING) == {"send": 4, "report": 2}
    assert counts(State.SUCCEEDED) == {"stranger": 1}
    assert counts(State.FAILED) == {}
    assert counts() == {}

    # what the dashboard and `taskbasket count --app` warn about: waiting, no handler here
    basket.enqueue("nobody_knows", queue="emails", strict=False)
    basket.enqueue("nobody_knows", queue="reports", delay=60, strict=False)
    assert basket.unknown_names() == {"nobody_knows": 2}
