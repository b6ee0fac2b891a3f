"""``taskbasket retry ID --args/--kwargs/--queue/--priority`` edits a failed task and
queues it again; bad input names the flag and changes nothing; ``show`` prints the
task's history."""

from __future__ import annotations

import json
from pathlib import Path

from taskbasket import Basket, Fail, State, current_task
from taskbasket.testing import drain  # (before taskbasket.testing.drain, the module, shadows it)
from tests.helpers import run_taskbasket

APP = '''
from taskbasket import Basket, Fail
basket = Basket("sqlite:///edit.db")

@basket.task(max_attempts=1)
def send(to: str, copies: int = 1) -> None:
    if to == "broken":
        raise Fail("no such mailbox")
'''


def test_retry_edits_a_failed_task_and_show_prints_its_history(tmp_path: Path) -> None:
    (tmp_path / "editapp.py").write_text(APP)
    with Basket(f"sqlite:///{tmp_path / 'edit.db'}") as basket:
        @basket.task(max_attempts=1)
        def send(to: str, copies: int = 1) -> None:
            if to == "broken":
                raise Fail("no such mailbox")

        failed = send.enqueue("broken", copies=2).id
        basket.worker(concurrency=1).run_until_empty(30)
        before = basket.get(failed)
        assert before is not None and before.state is State.FAILED

        def tb(*args: str) -> tuple[int, str, str]:
            result = run_taskbasket("--app", "editapp", *args, cwd=tmp_path)
            return result.returncode, result.stdout, result.stderr

        for flags, message in [
            (["--kwargs", "{to: 1}"], "--kwargs is not valid JSON"),
            (["--kwargs", "[1]"], "--kwargs must be a JSON object"),
            (["--args", '{"to": 1}'], "--args must be a JSON array"),
            (["--args", "[1, 2, 3, 4]"], "cannot be called with these arguments"),
            (["--queue", "a,b"], "give one"),
        ]:
            code, out, err = tb("retry", failed, *flags)
            assert code == 2 and message in err, (flags, err)
            assert basket.get(failed) == before  # nothing changed
        code, out, err = tb("retry", failed, "--kwargs", '{"copies": 3}', "--args", '["fixed"]',
                            "--queue", "slow", "--priority", "5", "--json")
        assert code == 0 and json.loads(out) == {"retried": 1}, err
        task = basket.get(failed)
        assert task is not None and task.state is State.QUEUED
        assert (task.args, task.kwargs, task.queue, task.priority) == (
            ["fixed"], {"copies": 3}, "slow", 5)
        code, out, err = tb("retry", failed, "--priority", "1")  # queued: refused
        assert code == 2 and "is queued: only a failed or cancelled" in err
        code, out, err = tb("show", failed)
        assert code == 0 and "history" in out and "Fail: no such mailbox" in out
        assert "edited" in out and '"queue": "default"' in out
        code, out, err = tb("show", failed, "--json")
        history = json.loads(out)["history"]
        assert [e["kind"] for e in history] == ["attempt", "edit"]
        assert history[0]["outcome"] == "failed" and history[1]["previous"]["priority"] == 0


STEPS_APP = '''
from taskbasket import Basket, current_task
basket = Basket("sqlite:///steps.db")

@basket.task
def checkout(order: int) -> None:
    ctx = current_task()
    ctx.step("charge", lambda: {"order": order, "paid": True})
    ctx.receive("review", timeout=3600)
'''


def test_show_prints_a_tasks_durable_steps(tmp_path: Path) -> None:
    (tmp_path / "stepsapp.py").write_text(STEPS_APP)
    with Basket(f"sqlite:///{tmp_path / 'steps.db'}") as basket:
        @basket.task
        def checkout(order: int) -> None:
            ctx = current_task()
            assert ctx is not None
            ctx.step("charge", lambda: {"order": order, "paid": True})
            ctx.receive("review", timeout=3600)

        ref = checkout.enqueue(7)
        drain(basket)
        assert basket.steps(ref.id) == [("charge", {"order": 7, "paid": True})]
        result = run_taskbasket("--app", "stepsapp", "show", ref.id, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "steps" in result.stdout and '{"order": 7, "paid": true}' in result.stdout
