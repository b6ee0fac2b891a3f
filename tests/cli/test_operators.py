"""retry, cancel and delete by id report every id they could not act on, and exit 1."""

from __future__ import annotations

import json
from pathlib import Path

from taskbasket import Basket, State
from tests.helpers import run_taskbasket

APP = '''
from taskbasket import Basket
basket = Basket("sqlite:///ops.db")

@basket.task(max_attempts=1)
def job(fail: bool) -> None:
    if fail:
        raise ValueError("asked to fail")
'''
MISSING = "01a2323f-b29c-7001-b147-eef3fbc19f0a"


def test_ids_missing_or_in_the_wrong_state_are_reported(tmp_path: Path) -> None:
    (tmp_path / "opsapp.py").write_text(APP)
    with Basket(f"sqlite:///{tmp_path / 'ops.db'}") as basket:
        @basket.task(max_attempts=1)
        def job(fail: bool) -> None:
            if fail:
                raise ValueError("asked to fail")

        failed, succeeded = job.enqueue(True).id, job.enqueue(False).id
        basket.worker(concurrency=1).run_until_empty(30)
        queued = job.enqueue(False).id
        assert basket.get(failed).state is State.FAILED  # type: ignore[union-attr]

    def tb(*args: str) -> tuple[int, str, str]:
        result = run_taskbasket("--app", "opsapp", *args, cwd=tmp_path)
        return result.returncode, result.stdout, result.stderr

    code, out, err = tb("retry", queued, MISSING, "not-an-id", failed)
    assert code == 1 and "retried 1 task" in out
    assert f"not retried: no task with id {MISSING}" in err
    assert "not retried: no task with id not-an-id" in err
    assert f"not retried: task {queued} is queued" in err
    code, out, err = tb("retry", failed)  # queued again now: nothing to retry
    assert code == 1 and "retried 0 tasks" in out and f"task {failed} is queued" in err
    code, out, err = tb("cancel", succeeded, queued, "--json")
    assert code == 1
    assert json.loads(out) == {"cancelled": 1, "wrong_state": {succeeded: "succeeded"}}
    code, out, err = tb("cancel", queued)
    assert code == 1 and f"task {queued} is cancelled" in err
    code, out, err = tb("delete", MISSING, succeeded, "--json")
    assert code == 1 and json.loads(out) == {"deleted": 1, "not_found": [MISSING]}
    code, out, err = tb("delete", queued)
    assert (code, out.strip(), err) == (0, "deleted 1 task", "")
    code, out, err = tb("retry", "--name", "job", "--json")  # a filter: counts, no ids
    assert code == 0 and json.loads(out) == {"retried": 0}


def test_cancel_stores_its_reason(tmp_path: Path) -> None:
    (tmp_path / "opsapp.py").write_text(APP)
    with Basket(f"sqlite:///{tmp_path / 'ops.db'}") as basket:
        @basket.task(max_attempts=1)
        def job(fail: bool) -> None: ...

        given, default = job.enqueue(False).id, job.enqueue(False).id
        for args in ((given, "--reason", "the customer withdrew it"), (default,)):
            result = run_taskbasket("--app", "opsapp", "cancel", *args, cwd=tmp_path)
            assert result.returncode == 0 and "cancelled 1 task" in result.stdout
        assert basket.get(given).last_error == "the customer withdrew it"  # type: ignore[union-attr]
        assert basket.get(default).last_error == "cancelled from the command line"  # type: ignore[union-attr]
