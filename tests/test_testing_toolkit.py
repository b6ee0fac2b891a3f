"""The testing toolkit users call (``taskbasket.testing``): assertions about what was
enqueued, drain, inline mode, isolation and the fake clock, on memory:// and on SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskbasket import Basket, Fail, Retry, current_task
from taskbasket.errors import ConfigurationError
from taskbasket.testing import (
    DrainLimitError,
    FakeClock,
    assert_enqueued,
    drain,
    drain_async,
    enqueued,
    inline,
    isolated,
    refute_enqueued,
)


@pytest.fixture(params=["memory", "sqlite"])
def basket(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Basket]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 't.db'}"
    made = Basket(url)
    yield made
    made.close()


def test_assert_enqueued_matches_args_exactly_and_kwargs_partly(basket: Basket) -> None:
    @basket.task(queue="emails")
    def send_email(to: str, subject: str = "", body: str = "") -> None: ...

    send_email.enqueue("a@b.c", subject="hi", body="long text")
    [task] = assert_enqueued(basket, send_email, args=("a@b.c",))
    assert task.kwargs["subject"] == "hi"
    assert_enqueued(basket, "send_email", kwargs={"subject": "hi"}, queue="emails", count=1)
    refute_enqueued(basket, send_email, args=("x@y.z",))
    refute_enqueued(basket, send_email, queue="default")
    assert [t.args for t in enqueued(basket, send_email)] == [["a@b.c"]]


def test_a_failed_assertion_lists_what_was_enqueued_closest_first(basket: Basket) -> None:
    @basket.task
    def send_email(to: str) -> None: ...

    @basket.task
    def resize(path: str) -> None: ...

    resize.enqueue("/tmp/a.png")
    send_email.enqueue("a@b.cc")
    with pytest.raises(AssertionError) as failure:
        assert_enqueued(basket, send_email, args=("a@b.c",))
    message = str(failure.value)
    assert "expected at least 1 task(s) matching send_email, args=('a@b.c',)" in message
    assert "found 0" in message
    lines = message.splitlines()
    assert "send_email('a@b.cc')" in lines[2] and "resize('/tmp/a.png')" in lines[3]
    with pytest.raises(AssertionError, match="exactly 2"):
        assert_enqueued(basket, send_email, count=2)
    with pytest.raises(AssertionError, match=r"expected no task\(s\)"):
        refute_enqueued(basket, send_email)


def test_drain_runs_what_tasks_enqueue_and_counts_outcomes(basket: Basket) -> None:
    seen: list[int] = []

    @basket.task
    def count_down(n: int) -> None:
        seen.append(n)
        if n:
            count_down.enqueue(n - 1)

    @basket.task(max_attempts=1)
    def broken() -> None:
        raise ValueError("no")

    count_down.enqueue(3)
    broken.enqueue()
    summary = drain(basket)
    assert seen == [3, 2, 1, 0]
    assert (summary.succeeded, summary["failed"], summary.attempts) == (4, 1, 5)
    assert basket.count(state="failed") == 1
    refute_enqueued(basket, count_down)


def test_drain_stops_a_task_that_enqueues_itself_for_ever(basket: Basket) -> None:
    @basket.task
    def again() -> None:
        again.enqueue()

    again.enqueue()
    with pytest.raises(DrainLimitError, match="enqueue itself for ever"):
        drain(basket, max_tasks=20)


def test_drain_async_runs_async_handlers_on_the_running_loop(basket: Basket) -> None:
    seen: list[str] = []

    @basket.task
    async def fetch(url: str) -> None:
        await asyncio.sleep(0)
        seen.append(url)

    fetch.enqueue("https://example.com")
    with pytest.raises(RuntimeError, match="drain_async"):
        async def wrong() -> None:
            drain(basket)
        asyncio.run(wrong())
    summary = asyncio.run(drain_async(basket))
    assert seen == ["https://example.com"] and summary.succeeded == 1


def test_drain_applies_middleware_and_timeouts_as_a_worker_does(basket: Basket) -> None:
    entered: list[str] = []

    @basket.middleware
    def around(task):  # type: ignore[no-untyped-def]
        entered.append(task.name)
        yield

    @basket.task(timeout=0.05, max_attempts=1)
    async def slow() -> None:
        await asyncio.sleep(5)

    slow.enqueue()
    summary = drain(basket)
    assert entered == ["slow"] and summary.timed_out == 1 and summary.failed == 1
    [task] = basket.list(state="failed")
    assert "TaskTimeout" in (task.last_error or "")


def test_inline_runs_at_once_with_retries_and_propagates_the_last_error(
    basket: Basket,
) -> None:
    attempts: list[int] = []

    @basket.task(max_attempts=3)
    def flaky(n: int) -> None:
        attempts.append(n)
        if len(attempts) < 3:
            raise Retry("not yet", delay=3600)

    @basket.task(max_attempts=5)
    def hopeless() -> None:
        raise Fail("never")

    with inline(basket) as mode:
        flaky.enqueue(1)
        with pytest.raises(Fail, match="never"):
            hopeless.enqueue()
    assert attempts == [1, 1, 1]
    assert mode.runner.stats["claimed"] == 4  # Fail is not retried
    assert basket.count() == 0  # nothing reached the store


def test_inline_runs_async_handlers_and_nested_enqueues(basket: Basket) -> None:
    seen: list[str] = []

    @basket.task
    async def child(x: str) -> None:
        seen.append(f"child {x}")

    @basket.task
    def parent(x: str) -> None:
        seen.append(f"parent {x}")
        child.enqueue(x)

    with inline(basket):
        parent.enqueue("a")

        async def in_a_loop() -> None:
            await child.enqueue_async("b")
        asyncio.run(in_a_loop())
    assert seen == ["parent a", "child a", "child b"]


def test_isolated_points_a_basket_at_a_fresh_memory_store_and_back(tmp_path: Path) -> None:
    app = Basket(f"sqlite:///{tmp_path / 'app.db'}")

    @app.task
    def job(n: int) -> None: ...

    job.enqueue(1)
    with isolated(app) as same:
        assert same is app and app.url == "memory://"
        refute_enqueued(app, job)
        job.enqueue(2)
        assert_enqueued(app, job, args=(2,), count=1)
    assert [t.args for t in enqueued(app, job)] == [[1]]
    app.close()


def test_a_fake_clock_reaches_delays_and_backoff_at_once() -> None:
    clock = FakeClock()
    basket = Basket("memory://", clock=clock)
    runs: list[str] = []

    @basket.task(max_attempts=3)
    def reminder(text: str) -> None:
        runs.append(text)
        if len(runs) == 1:
            raise RuntimeError("mail server down")  # retried after the backoff

    reminder.options(delay=30 * 86400).enqueue("in 30 days")
    assert drain(basket).attempts == 0
    clock.advance(30 * 86400)
    assert drain(basket).retried == 1
    assert basket.count(state="retrying") == 1
    summary = drain(basket, advance_time=True)
    assert summary.succeeded == 1 and runs == ["in 30 days", "in 30 days"]
    basket.close()


def test_advance_time_needs_a_fake_clock(tmp_path: Path) -> None:
    basket = Basket(f"sqlite:///{tmp_path / 't.db'}")

    @basket.task
    def job() -> None: ...

    with pytest.raises(ConfigurationError, match="FakeClock"):
        drain(basket, advance_time=True)
    basket.close()


PLUGIN_TESTS = '''
import pytest
from taskbasket.testing import assert_enqueued, drain

import app_tasks


def test_the_fixture_isolates_the_configured_basket(taskbasket_basket):
    assert taskbasket_basket is app_tasks.basket and taskbasket_basket.url == "memory://"
    app_tasks.job.enqueue(1)
    assert_enqueued(taskbasket_basket, app_tasks.job, args=(1,), count=1)


def test_each_test_has_its_own_store(taskbasket_basket):
    assert taskbasket_basket.count() == 0


def test_the_clock_fixture_drives_the_store(taskbasket_basket, taskbasket_clock):
    app_tasks.job.options(delay=3600).enqueue(2)
    taskbasket_clock.advance(3600)
    assert drain(taskbasket_basket).succeeded == 1


@pytest.mark.taskbasket_inline
def test_the_marker_runs_tasks_inline(taskbasket_basket):
    app_tasks.job.enqueue(3)
    assert app_tasks.done[-1] == 3 and taskbasket_basket.count() == 0


def test_the_inline_fixture(taskbasket_inline):
    app_tasks.job.enqueue(4)
    assert app_tasks.done[-1] == 4
'''

APP = '''
from taskbasket import Basket

basket = Basket("sqlite:///never-opened.db")
done = []


@basket.task
def job(n: int) -> None:
    done.append(n)
'''


def test_the_pytest_plugin_gives_fixtures_for_a_users_basket(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.helpers import PYTHONPATH

    (tmp_path / "app_tasks.py").write_text(APP)
    (tmp_path / "test_app.py").write_text(PLUGIN_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\ntaskbasket_basket = app_tasks:basket\n")
    from importlib.metadata import entry_points

    # installed, the plugin loads through its entry point; from a bare checkout, name it
    installed = any(e.value == "taskbasket.testing.pytest_plugin"
                    for e in entry_points(group="pytest11"))
    load = [] if installed else ["-p", "taskbasket.testing.pytest_plugin"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *load, "-p", "no:randomly",
         "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONPATH=f"{tmp_path}:{PYTHONPATH}"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout
    assert not (tmp_path / "never-opened.db").exists()


def test_drain_fires_due_schedule_slots_and_runs_them() -> None:
    clock = FakeClock()
    basket = Basket("memory://", clock=clock)
    beats: list[int] = []

    @basket.periodic(every=60)
    def beat() -> None:
        beats.append(1)

    assert drain(basket).attempts == 0  # written, and not due yet
    clock.advance(61)
    assert drain(basket).succeeded == 1 and beats == [1]
    assert drain(basket, advance_time=True).attempts == 0  # never advances to a slot
    basket.close()


def test_drain_stores_results_and_progress_and_inline_keeps_results(basket: Basket) -> None:
    @basket.task
    def double(n: int) -> int:
        ctx = current_task()
        assert ctx is not None
        ctx.progress(n, 10, note="halfway")
        return n * 2

    @basket.task(max_attempts=3)
    def opaque() -> object:
        return object()

    ref = double.enqueue(5)
    drain(basket)
    task = basket.get(ref.id)
    assert task is not None and task.result == 10 and ref.result(timeout=1) == 10
    assert task.progress is not None and (task.progress.done, task.progress.note) == (
        5, "halfway")
    with inline(basket):
        assert double.enqueue(4).result() == 8
        with pytest.raises(TypeError, match="of type object"):
            opaque.enqueue()


def test_inline_and_drain_run_a_snoozed_task_again(basket: Basket) -> None:
    from taskbasket import Snooze, State, TaskFailed
    from taskbasket.testing import drain, inline

    calls: list[int] = []

    @basket.task(max_attempts=1, max_snoozes=3)
    def poll(times: int, wait: float = 3600) -> int:
        calls.append(times)
        if len(calls) <= times:
            raise Snooze(delay=wait)
        return len(calls)

    with inline(basket):
        ref = poll.enqueue(2)  # two snoozes, then done: the same attempt, not waited out
        assert ref.result() == 3
        calls.clear()
        with pytest.raises(TaskFailed, match="max_snoozes of 3"):
            poll.enqueue(5)
    calls.clear()
    stored = poll.enqueue(1, wait=0)
    drain(basket)
    task = basket.get(stored.id)
    assert task is not None and task.state is State.SUCCEEDED
    assert (task.attempts, task.snoozes, task.result) == (1, 1, 2)
