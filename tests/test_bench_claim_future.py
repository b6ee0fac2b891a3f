"""The plumbing of the `make bench` scenario "claims behind future higher-priority tasks"
(benchmarks/claim_future.py), run on each SQL store with a tiny count: the future tasks
load, both claim orders drain, and every figure is reported. Nothing here is timed."""

from __future__ import annotations

import importlib

import pytest
from benchmarks import claim_future

from tests.stores import available_store, new_store, unique_tag

FIGURES = [
    "claim_future_tasks", "claim_future_load_s",
    "claim_per_s_no_future", "claim_per_s_behind_future", "claim_future_slowdown",
    "claim_created_per_s_no_future", "claim_created_per_s_behind_future",
    "claim_created_future_slowdown",
]


def test_the_count_of_future_tasks_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TASKBASKET_BENCH_FUTURE_TASKS", raising=False)
    assert claim_future.future_tasks() == 1_000_000
    monkeypatch.setenv("TASKBASKET_BENCH_FUTURE_TASKS", "2500")
    assert claim_future.future_tasks() == 2500


@pytest.mark.parametrize("store", ["sqlite", "postgres", "mysql"])
def test_the_scenario_loads_drains_and_reports(
    store: str, request: pytest.FixtureRequest
) -> None:
    available_store(store)
    scenario = importlib.import_module(f"benchmarks.scenario_{store}_claim_future")
    with new_store(store, unique_tag(request)) as url:
        results = claim_future.run(url, scenario.load_future, scenario.clear, count=300,
                                   due_tasks=40, rounds=1)
    assert sorted(results) == sorted(FIGURES)
    assert results["claim_future_tasks"] == 300
    assert all(value > 0 for value in results.values()), results
