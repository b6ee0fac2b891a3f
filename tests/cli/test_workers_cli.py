"""``taskbasket workers`` (a table, or ``--json``) and ``taskbasket explain ID``."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

from click.testing import CliRunner

from taskbasket import Basket, State
from taskbasket.cli import main
from tests.helpers import wait_for


def test_workers_and_explain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    basket = Basket(url)
    release = threading.Event()

    @basket.task(queue="reports")
    def report() -> None:
        release.wait(20)

    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, [*args, "--url", url])
        assert result.exit_code == code, result.output
        return result.output

    assert "no worker is registered" in run("workers")
    ref = report.enqueue()
    assert "No live worker is registered" in run("explain", ref.id)
    worker = basket.worker(queues=["reports"], concurrency=2, visibility_timeout=1.5)
    with worker:
        wait_for(lambda: basket.get(ref.id) is not None and basket.get(ref.id).state  # type: ignore[union-attr]
                 is State.RUNNING, 20, "the task to run")
        listed = json.loads(run("workers", "--json"))
        assert [(w["id"], w["queues"], w["tasks"], w["state"]) for w in listed] == [
            (worker.worker_id, ["reports"], ["report"], "live")]
        table = run("workers")
        assert "reports" in table and "live" in table
        assert f"running on worker {worker.worker_id}" in run("explain", ref.id)
        explained = json.loads(run("explain", ref.id, "--json"))
        assert (explained["kind"], explained["worker_id"]) == ("running", worker.worker_id)
        release.set()
    missing = str(uuid.uuid4())
    assert "No task" in run("explain", missing, code=1)
    assert json.loads(run("explain", missing, "--json", code=1))["kind"] == "unknown_task"
    basket.close()
