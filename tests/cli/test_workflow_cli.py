"""``taskbasket workflow ID`` prints a workflow as a tree of its tasks (a fan-in shown once
in full, then as a reference), ``--json`` its tasks and edges, and an unknown id exits 1."""

from __future__ import annotations

import json
from pathlib import Path

from taskbasket import Basket, chain, group
from tests.helpers import run_taskbasket


def test_a_workflow_is_printed_as_a_tree_and_as_json(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wf.db'}"
    with Basket(url) as basket:
        @basket.task
        def add(x: int, y: int = 0) -> int:
            return x + y

        @basket.task
        def total(values: list[int]) -> int:
            return sum(values)

        @basket.task(max_attempts=1)
        def boom(x: int) -> None:
            raise ValueError("boom")

        ref = chain(add.s(1, 2), group(add.s(1), boom.s()), total.s()).enqueue()
        basket.worker(concurrency=2).run_until_empty(30)
    assert ref.workflow_id is not None
    result = run_taskbasket("workflow", "--url", url, ref.workflow_id, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"workflow {ref.workflow_id}" in out and "failed" in out
    assert "succeeded  add" in out and "-> 3" in out and "ValueError: boom" in out
    assert out.count("total") == 2 and "(shown above)" in out  # the fan-in: once in full
    as_json = run_taskbasket("workflow", "--url", url, "--json", ref.workflow_id,
                             cwd=tmp_path)
    data = json.loads(as_json.stdout)
    assert data["state"] == "failed" and len(data["tasks"]) == 4
    last = data["tasks"][-1]
    assert last["name"] == "total" and last["state"] == "cancelled"
    assert len(last["depends_on"]) == 2
    missing = run_taskbasket("workflow", "--url", url, "01890000-0000-7000-8000-000000000000",
                             cwd=tmp_path)
    assert missing.returncode == 1 and "no workflow" in missing.stderr
