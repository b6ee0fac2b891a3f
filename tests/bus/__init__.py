"""Helpers of the message-bus tests, and the worker app their worker processes run.

Brokers: ``$TASKBASKET_TEST_AMQP_URL`` (default ``amqp://guest:guest@127.0.0.1:5672/``)
and ``$TASKBASKET_TEST_NATS_URL`` (default ``nats://127.0.0.1:4222``). A test whose
broker is unreachable is skipped with the reason, and fails instead when
``TASKBASKET_REQUIRE_BACKENDS`` is ``all`` or names ``amqp`` / ``nats``.

Every test gets its own ``?prefix=`` (RabbitMQ queues and exchanges, a NATS stream) and
deletes it afterwards, so tests never share state.

The tasks below (``app``) are run by real ``taskbasket worker tests.bus:app`` processes;
they log what they did to ``$TB_EFFECTS`` (see ``tests.helpers.Effects``).
``BusWorkerTests`` is the suite both transports run: ``test_amqp.py`` and ``test_nats.py``
subclass it, and add tests that look at their broker directly.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from taskbasket import Basket, ConstantBackoff, current_task
from taskbasket.backends.base import ClaimParams, Outcome, OutcomeKind
from taskbasket.errors import UnsupportedOperationError
from tests.helpers import Effects, WorkerProcess, wait_for
from tests.stores import is_required, unique_tag

BASE_URLS = {
    "amqp": os.environ.get("TASKBASKET_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    "nats": os.environ.get("TASKBASKET_TEST_NATS_URL", "nats://127.0.0.1:4222"),
}
BUSES = list(BASE_URLS)


@functools.cache
def unavailable(bus: str) -> str | None:
    """Why ``bus`` cannot be tested here, or None."""
    base = BASE_URLS[bus]
    try:
        if bus == "amqp":
            import pika

            connection = pika.BlockingConnection(pika.URLParameters(base))
            connection.close()
        else:
            from taskbasket.transports.nats import NatsTransport

            NatsTransport(base, connect_timeout=2).close()
    except ImportError as exc:
        return f"its client library is missing ({exc}); pip install 'taskbasket[{bus}]'"
    except Exception as exc:
        return f"no broker at {base} ({exc!r}); start it with ensure-services {bus}"
    return None


def require(bus: str) -> None:
    """Skip the test if ``bus`` is unreachable, or fail if it is required."""
    reason = unavailable(bus)
    if reason is None:
        return
    if is_required(bus):
        pytest.fail(f"{bus} is required (TASKBASKET_REQUIRE_BACKENDS) but: {reason}")
    pytest.skip(f"{bus}: {reason}")


def bus_url(bus: str, tag: str) -> str:
    base = BASE_URLS[bus]
    return f"{base}{'&' if '?' in base else '?'}prefix=tb_{tag}"


@contextlib.contextmanager
def new_bus_url(bus: str, tag: str, queues: tuple[str, ...] = ()) -> Iterator[str]:
    """A URL with a prefix of its own on ``bus`` (skipped if unreachable), whose broker
    objects (and those of ``queues``) are deleted afterwards."""
    require(bus)
    url = bus_url(bus, tag)
    try:
        yield url
    finally:
        drop(bus, url, queues)


def drop(bus: str, url: str, queues: tuple[str, ...] = ()) -> None:
    """Delete everything taskbasket made on the broker under ``url``'s prefix."""
    from taskbasket.transports.layout import split_bus_url

    _, prefix = split_bus_url(url)
    if not prefix.startswith("tb_"):
        return  # never touch what these tests did not make
    if bus == "nats":
        from taskbasket.transports.nats import NatsTransport

        transport = NatsTransport(split_bus_url(url)[0])
        try:
            with contextlib.suppress(Exception):
                transport.call(transport.js.delete_stream(prefix))
        finally:
            transport.close()
        return
    from taskbasket.backends.bus.amqp import AmqpBackend

    backend = AmqpBackend(url)
    try:
        with contextlib.suppress(Exception):
            backend.known_queues()
        for queue in queues:
            backend._declared.add(queue)
        names = backend.broker_names()
        for kind, items in names.items():
            for name in items:
                with contextlib.suppress(Exception):
                    if kind == "queues":
                        backend.transport.run(lambda ch, n=name: ch.queue_delete(n))
                    else:
                        backend.transport.run(lambda ch, n=name: ch.exchange_delete(n))
    finally:
        backend.close()


def effect_times(effects_path: Path, task_id: str, event: str) -> list[float]:
    """When a task's handler recorded ``event`` (Unix seconds), in order."""
    with contextlib.closing(sqlite3.connect(effects_path)) as conn:
        rows = conn.execute("SELECT at FROM effects WHERE task_id = ? AND event = ? "
                            "ORDER BY at", (task_id, event)).fetchall()
    return [row[0] for row in rows]


# --------------------------------------------------------------------------- worker app

app = Basket(os.environ.get("TASKBASKET_URL"))


def _record(event: str) -> None:
    ctx = current_task()
    assert ctx is not None
    Effects(Path(os.environ["TB_EFFECTS"])).record(ctx.id, ctx.attempt, event)


@app.task(max_attempts=5, backoff=ConstantBackoff(0.3))
def flaky(failures: int) -> None:
    """Fails its first ``failures`` attempts, then succeeds."""
    _record("start")
    ctx = current_task()
    assert ctx is not None
    if ctx.attempt <= failures:
        raise RuntimeError(f"flaky failure on attempt {ctx.attempt}")
    _record("done")


@app.task(max_attempts=2, backoff=ConstantBackoff(0.1))
def needs_marker(path: str) -> None:
    """Fails until the file ``path`` exists."""
    _record("start")
    if not Path(path).exists():
        raise RuntimeError(f"no marker at {path}")
    _record("done")


@app.task
def stamp() -> None:
    _record("done")


@app.task
def noop() -> None:
    return None


# --------------------------------------------------------------------------- the suite


class BusWorkerTests:
    """End-to-end behaviour of a bus transport with real worker processes; each bus's
    test module subclasses it with ``bus`` set, so both run the very same tests."""

    bus: str

    @pytest.fixture
    def url(self, request: pytest.FixtureRequest) -> Iterator[str]:
        with new_bus_url(self.bus, unique_tag(request)) as url:
            yield url

    @pytest.fixture
    def effects(self, tmp_path: Path) -> Effects:
        return Effects(tmp_path / "effects.db")

    @pytest.fixture
    def producer(self, url: str) -> Iterator[Basket]:
        basket = Basket(url)
        for definition in app.registry.values():
            basket.task(name=definition.name, max_attempts=definition.max_attempts,
                        timeout=definition.timeout, backoff=definition.backoff)(definition.func)
        try:
            yield basket
        finally:
            basket.close()

    @pytest.fixture
    def spawn(self, url: str, effects: Effects) -> Iterator[Callable[..., WorkerProcess]]:
        workers: list[WorkerProcess] = []

        def start(*args: str, app_name: str = "tests.bus:app") -> WorkerProcess:
            worker = WorkerProcess(url, effects.path, *args, app=app_name)
            workers.append(worker)
            worker.wait_started()
            return worker

        yield start
        for worker in workers:
            worker.stop()

    def test_a_worker_process_runs_a_task_and_acknowledges_it(
        self, producer: Basket, effects: Effects, spawn: Callable[..., WorkerProcess],
    ) -> None:
        worker = spawn()
        ref = producer.enqueue("stamp")
        wait_for(lambda: effects.events(ref.id, "done"), 15, "the task to run")
        assert worker.terminate() == 0  # a graceful stop hands nothing back: it was acked
        assert producer.count(state="queued") == 0
        assert producer.count(state="failed") == 0
        assert [row[1] for row in effects.events(ref.id)] == [1]

    def test_retry_with_backoff_lands_again_and_succeeds(
        self, producer: Basket, effects: Effects, spawn: Callable[..., WorkerProcess],
    ) -> None:
        spawn()
        ref = producer.enqueue("flaky", args=[2])
        wait_for(lambda: effects.events(ref.id, "done"), 20, "the third attempt")
        assert [row[1] for row in effects.events(ref.id, "start")] == [1, 2, 3]
        starts = effect_times(effects.path, ref.id, "start")
        gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
        assert all(gap >= 0.3 - 0.02 for gap in gaps), gaps  # ConstantBackoff(0.3)
        assert producer.count(state="failed") == 0

    def test_a_failing_task_is_dead_lettered_listed_and_retried(
        self, producer: Basket, effects: Effects, spawn: Callable[..., WorkerProcess],
        tmp_path: Path,
    ) -> None:
        spawn()
        marker = tmp_path / "marker"
        ref = producer.enqueue("needs_marker", args=[str(marker)])
        wait_for(lambda: producer.count(state="failed") == 1, 20, "the dead letter")
        [failed] = producer.list(state="failed")
        assert failed.id == ref.id and failed.state == "failed"
        assert failed.attempts == 2 and failed.max_attempts == 2
        assert failed.args == [str(marker)]
        assert "no marker" in (failed.last_error or "")
        assert "gave up after attempt 2 of 2" in (failed.last_error or "")
        assert producer.list(state="failed", queue="default", name="needs_marker")
        assert producer.list(state="failed", name="other") == []
        marker.touch()
        assert producer.retry(ref.id) == 1
        wait_for(lambda: effects.events(ref.id, "done"), 15, "the retried task to succeed")
        assert effects.events(ref.id, "done")[0][1] == 1  # attempts start again from 1
        assert producer.list(state="failed") == []

    def test_delay_is_honoured_within_its_precision(
        self, producer: Basket, effects: Effects, spawn: Callable[..., WorkerProcess],
    ) -> None:
        spawn()
        enqueued = time.time()
        ref = producer.enqueue("stamp", delay=1.5)
        wait_for(lambda: effects.events(ref.id, "done"), 15, "the delayed task")
        [ran] = effect_times(effects.path, ref.id, "done")
        # documented precision: 10 ms (RabbitMQ) or a few ms (NATS), plus pickup
        assert 1.5 - 0.02 <= ran - enqueued <= 1.5 + 0.5, ran - enqueued

    def test_unsupported_operations_raise_clear_errors(self, producer: Basket) -> None:
        ref = producer.enqueue("stamp")
        name = getattr(producer.backend, "transport_name", "?")
        calls: list[Callable[[], object]] = [
            lambda: producer.enqueue("stamp", unique_key="once"),
            lambda: producer.enqueue("stamp", connection=object()),
            lambda: producer.get(ref.id),
            lambda: producer.list(),
            lambda: producer.list(state="queued"),
            lambda: producer.count(state="running"),
            lambda: producer.cancel(ref.id),
            lambda: producer.clean("1d"),
            lambda: producer.delete(ref.id),
        ]
        for call in calls:
            with pytest.raises(UnsupportedOperationError) as caught:
                call()
            message = str(caught.value)
            assert name in message and "docs/buses.md" in message, message
        assert producer.count(state="queued") == 1  # what a bus can count, it counts
        assert producer.backend.capabilities.is_bus

    def test_claims_in_created_order_are_refused_naming_the_transport(
        self, producer: Basket,
    ) -> None:
        from taskbasket.backends.base import ClaimOrder

        name = getattr(producer.backend, "transport_name", "?")
        with pytest.raises(UnsupportedOperationError, match=f"{name} cannot claim in "
                           "enqueue order"):
            producer.worker(order="created")
        with pytest.raises(UnsupportedOperationError, match=f"{name} is a message bus: it "
                           "cannot claim in enqueue order"):
            producer.backend.tasks_claim(ClaimParams(
                "w", None, 1, 30.0, order=ClaimOrder.CREATED))
        assert producer.worker(order="priority").order is ClaimOrder.PRIORITY

    def test_a_listener_hands_back_an_unclaimed_message_without_costing_an_attempt(
        self, producer: Basket,
    ) -> None:
        ref = producer.enqueue("stamp")
        backend = producer.backend
        params = ClaimParams("w", ["stamp"], 1, 30.0, ["default"])
        assert backend.tasks_claim(ClaimParams("w", ["stamp"], 0, 30.0, ["default"])) == []
        listener = backend.listener(["default"])
        assert listener.wait(5.0) is True  # it holds the message now
        listener.close()  # unclaimed: back to the queue
        [claimed] = wait_for(lambda: backend.tasks_claim(params), 10, "the handed-back task")
        assert claimed.id == ref.id and claimed.attempts == 1
        assert backend.tasks_finish([Outcome(claimed.lease, OutcomeKind.SUCCEEDED)]) == [True]

    def test_a_released_task_comes_back_without_costing_an_attempt(
        self, producer: Basket,
    ) -> None:
        ref = producer.enqueue("stamp", max_attempts=1)
        backend = producer.backend
        params = ClaimParams("w", ["stamp"], 1, 30.0, ["default"])
        [first] = wait_for(lambda: backend.tasks_claim(params), 10, "the task")
        assert first.attempts == 1
        assert backend.tasks_finish([Outcome(first.lease, OutcomeKind.RELEASED)]) == [True]
        [second] = wait_for(lambda: backend.tasks_claim(params), 10, "the released task")
        assert second.id == ref.id and second.attempts == 1
        assert backend.tasks_finish([Outcome(second.lease, OutcomeKind.SUCCEEDED)]) == [True]
        assert producer.count(state="queued") == 0 and producer.count(state="failed") == 0

    @pytest.mark.slow
    def test_a_worker_sigkilled_mid_task_is_replaced_and_the_broker_redelivers(
        self, producer: Basket, effects: Effects, spawn: Callable[..., WorkerProcess],
    ) -> None:
        crash = "tests.apps.crashapp:basket"
        args = ("--visibility-timeout", "1", "--concurrency", "1")
        victim = spawn(*args, app_name=crash)
        ref = producer.enqueue("slow", args=[1.0], max_attempts=3, timeout=120,
                               strict=False)  # crashapp's task
        wait_for(lambda: effects.events(ref.id, "start"), 15, "the task to start")
        victim.kill()
        rescuer = spawn(*args, app_name=crash)
        wait_for(lambda: effects.events(ref.id, "done"), 20, "another worker to finish it")
        done = effects.events(ref.id, "done")
        assert [row[1] for row in done] == [2]  # once, on attempt 2
        assert done[0][3] == rescuer.pid != victim.pid
        assert producer.count(state="failed") == 0

    @pytest.mark.slow
    def test_a_task_that_keeps_killing_its_workers_ends_dead_lettered(
        self, producer: Basket, effects: Effects, spawn: Callable[..., WorkerProcess],
    ) -> None:
        crash = "tests.apps.crashapp:basket"
        args = ("--visibility-timeout", "0.6", "--concurrency", "1")
        ref = producer.enqueue("kill_worker", max_attempts=2, strict=False)  # crashapp's task
        workers = [spawn(*args, app_name=crash)]

        def failed_or_respawn() -> bool:
            if producer.count(state="failed") == 1:
                return True
            if workers[-1].proc.poll() is not None:  # it killed its worker: start another
                workers.append(spawn(*args, app_name=crash))
            return False

        wait_for(failed_or_respawn, 30, "the poison task to be dead-lettered", interval=0.1)
        [failed] = producer.list(state="failed")
        assert failed.id == ref.id and failed.attempts == 2
        assert "lease expired on attempt 2 of 2" in (failed.last_error or "")
        assert [row[1] for row in effects.events(ref.id, "start")] == [1, 2]
