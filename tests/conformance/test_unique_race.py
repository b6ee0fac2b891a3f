"""Unique keys under concurrency: real processes racing to enqueue the same keys."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from typing import Any

import pytest

from taskbasket import Basket

PROCESSES = 4
KEYS = 25


def _enqueue_each_key(url: str, barrier: Any, results: Any) -> None:
    """In a child process: for each key, wait until every process is ready, then enqueue
    a task with that key; report (key, task id, created) for each, or the error."""
    try:
        with Basket(url) as basket:
            basket.backend.migrate()
            refs = []
            for index in range(KEYS):
                barrier.wait(60)
                ref = basket.enqueue("job", unique_key=f"key-{index}")
                refs.append((f"key-{index}", ref.id, ref.created))
    except BaseException as exc:
        barrier.abort()  # the others stop waiting for this one
        results.put(f"{type(exc).__name__}: {exc}")
        raise
    results.put(refs)


@pytest.mark.slow
@pytest.mark.needs("unique_keys", "task_records", "shared_between_processes")
def test_processes_racing_on_a_unique_key_get_one_task(store_url: str) -> None:
    """Four processes enqueue each of 25 keys at the same moment (a barrier per key): each
    key gets exactly one task, every process is given that task's id, and exactly one
    of them is told it created it."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    children = [context.Process(target=_enqueue_each_key, args=(store_url, barrier, results))
                for _ in range(PROCESSES)]
    for child in children:
        child.start()
    try:
        reports = [results.get(timeout=120) for _ in children]
    finally:
        for child in children:
            child.join(30)
            if child.is_alive():
                child.kill()
    assert not [report for report in reports if isinstance(report, str)], reports
    assert [child.exitcode for child in children] == [0] * PROCESSES
    ids: dict[str, set[str]] = {}
    created: Counter[str] = Counter()
    for report in reports:
        for key, task_id, was_created in report:
            ids.setdefault(key, set()).add(task_id)
            created[key] += was_created
    assert all(len(task_ids) == 1 for task_ids in ids.values()), ids
    assert created == Counter({f"key-{index}": 1 for index in range(KEYS)})
    with Basket(store_url) as basket:
        stored = basket.list(limit=1000)
        assert len(stored) == KEYS
        assert {task.unique_key: task.id for task in stored} == {
            key: task_id for key, (task_id,) in ids.items()}
