"""The outbox relay: tasks committed to a SQL store reach a message bus, at least once.

Every test runs against real servers: a SQL store (SQLite, PostgreSQL, MariaDB) as the
outbox and a real broker (RabbitMQ, NATS JetStream) as the bus, each with its own schema
or database and its own bus prefix. The crash test SIGKILLs real relay processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskbasket import Basket, ConfigurationError, State
from taskbasket.backends import open_backend
from taskbasket.backends.base import (
    Backend,
    ClaimedTask,
    ClaimParams,
    NewTask,
    Outcome,
    OutcomeKind,
    TaskFilter,
)
from taskbasket.relay import Relay
from tests.bus import bus_url as make_bus_url
from tests.bus import drop, new_bus_url, require
from tests.helpers import PYTHONPATH, Effects, WorkerProcess, wait_for
from tests.stores import available_store, factory, new_store, unique_tag

ROOT = Path(__file__).resolve().parent.parent
SQL_STORES = ["sqlite", "postgres", "mysql"]


@pytest.fixture(params=SQL_STORES)
def source_name(request: pytest.FixtureRequest) -> str:
    return available_store(request.param)


@pytest.fixture
def source_url(source_name: str, request: pytest.FixtureRequest) -> Iterator[str]:
    with new_store(source_name, unique_tag(request)) as url:
        yield url


@pytest.fixture(params=["amqp", "nats"])
def bus_url(request: pytest.FixtureRequest) -> Iterator[str]:
    bus: str = request.param
    with new_bus_url(bus, unique_tag(request), ("default", "emails")) as url:
        yield url


@pytest.fixture
def outbox(source_url: str) -> Iterator[Basket]:
    basket = Basket(source_url)

    @basket.task(queue="emails", max_attempts=4, priority=3)
    def send_email(to: str) -> None: ...

    basket.migrate()
    try:
        yield basket
    finally:
        basket.close()


def consume(url: str, count: int, queues: list[str] | None = None) -> list[ClaimedTask]:
    """Take ``count`` tasks off the bus (acknowledging them), waiting up to 20 s; then
    the bus must hold no other task in ``queues``."""
    backend = open_backend(url)
    taken: list[ClaimedTask] = []
    try:
        def more() -> bool:
            batch = backend.tasks_claim(ClaimParams("test", None, 100, 30.0, queues))
            backend.tasks_finish([Outcome(t.lease, OutcomeKind.SUCCEEDED) for t in batch])
            taken.extend(batch)
            return len(taken) >= count

        wait_for(more, 20, f"{count} task(s) on the bus")
        ready = TaskFilter(states=[State.QUEUED], queues=queues)
        wait_for(lambda: backend.tasks_count(ready) == 0, 20,
                 "the bus to hold no task beyond those (acknowledged ones leave it)")
    finally:
        backend.close()
    return taken


def test_only_committed_tasks_are_published_with_their_ids(
    outbox: Basket, source_name: str, bus_url: str
) -> None:
    send_email = outbox.registry["send_email"]
    conn = factory(source_name).app_connection(outbox.url)  # type: ignore[attr-defined]
    try:
        rolled_back = send_email.options(connection=conn).enqueue("no@x.org")
        conn.rollback()
        committed = send_email.options(connection=conn, unique_key="order-7").enqueue("a@x.org")
        conn.commit()
    finally:
        conn.close()
    relay = Relay(outbox.url, bus_url)
    try:
        assert relay.run_until_empty() == 1
    finally:
        relay.close()
    [task] = consume(bus_url, 1, ["emails"])
    assert task.id == committed.id != rolled_back.id  # the task id is the message id
    assert (task.name, task.queue, task.max_attempts) == ("send_email", "emails", 4)
    assert task.attempts == 1  # the bus's first attempt: relaying cost none
    stored = outbox.get(committed.id)
    assert stored is not None and stored.state == State.SUCCEEDED and stored.attempts == 0
    assert stored.args == ["a@x.org"] and json.loads(task.payload)["args"] == ["a@x.org"]


def test_a_delayed_task_is_relayed_when_due(outbox: Basket, bus_url: str) -> None:
    later = outbox.registry["send_email"].options(delay=0.5).enqueue("later@x.org")
    relay = Relay(outbox.url, bus_url, batch_size=10)
    try:
        assert relay.relay_once().claimed == 0
        wait_for(lambda: relay.relay_once().published, 10, "the task to come due")
    finally:
        relay.close()
    assert [t.id for t in consume(bus_url, 1, ["emails"])] == [later.id]


def test_a_bus_outage_defers_tasks_in_the_store_and_loses_none(
    outbox: Basket, bus_url: str
) -> None:
    refs = outbox.registry["send_email"].enqueue_many([(f"{i}@x.org",) for i in range(3)])
    broken = open_backend(bus_url)
    broken.close()  # its connection is gone, as when the broker goes down
    relay = Relay(outbox.url, broken)
    try:
        result = relay.relay_once()
    finally:
        relay.close()
    assert (result.published, result.deferred) == (0, 3)
    for ref in refs:
        task = outbox.get(ref.id)
        assert task is not None and task.state == State.RETRYING and task.attempts == 0
        assert "could not publish to" in (task.last_error or "")
    relay = Relay(outbox.url, bus_url)
    try:
        wait_for(lambda: relay.run_until_empty() and outbox.count(state="succeeded") == 3,
                 20, "the deferred tasks to be published")
    finally:
        relay.close()
    assert sorted(t.id for t in consume(bus_url, 3, ["emails"])) == sorted(r.id for r in refs)


@pytest.mark.parametrize("source_name", ["postgres"], indirect=True)
def test_a_task_the_bus_refuses_fails_in_the_store_and_the_rest_go(
    outbox: Basket, bus_url: str
) -> None:
    good = outbox.enqueue("send_email", args=["a@x.org"], queue="emails")
    bad = outbox.enqueue("send_email", args=["b@x.org"], queue="no such queue")
    relay = Relay(outbox.url, bus_url)
    try:
        result = relay.relay_once()
    finally:
        relay.close()
    assert (result.published, result.failed) == (1, 1)
    refused = outbox.get(bad.id)
    assert refused is not None and refused.state == State.FAILED
    assert "cannot publish this task" in (refused.last_error or "")
    assert "wildcards or separators" in (refused.last_error or "")
    assert [t.id for t in consume(bus_url, 1, ["emails"])] == [good.id]


def _publish_again(url: str, task: NewTask) -> int:
    """Publish ``task`` again; how many messages its queue's stream gained (NATS only)."""
    backend: Backend = open_backend(url)
    try:
        before = _stream_sequence(backend)
        backend.tasks_insert([task])
        return _stream_sequence(backend) - before
    finally:
        backend.close()


def _stream_sequence(backend: Backend) -> int:
    """The last sequence number of a NATS backend's stream (0 for other buses)."""
    if not backend.url.startswith("nats"):
        return 0
    from taskbasket.backends.bus.nats import NatsBackend

    assert isinstance(backend, NatsBackend)
    info = backend.transport.call(backend.transport.js.stream_info(backend.stream))
    return int(info.state.last_seq)


@pytest.mark.parametrize("source_name", ["sqlite"], indirect=True)
def test_a_duplicate_publish_runs_once(
    outbox: Basket, bus_url: str, tmp_path: Path
) -> None:
    """As if a relay died after publishing: the same task id arrives twice."""
    ref = outbox.enqueue("stamp", strict=False)  # a task of the bus workers' app
    relay = Relay(outbox.url, bus_url)
    try:
        assert relay.run_until_empty() == 1
    finally:
        relay.close()
    effects = Effects(tmp_path / "effects.db")
    worker = WorkerProcess(bus_url, effects.path, "--log-tasks", app="tests.bus:app")
    try:
        worker.wait_started()
        # logged once the success is recorded (the message acknowledged)
        wait_for(lambda: f"{ref.id} (stamp) succeeded" in worker.log(), 20, "the first run")
        gained = _publish_again(bus_url, NewTask(id=ref.id, name="stamp", queue="default",
                                                 payload='{"args":[]}'))
        if "amqp" in bus_url:  # RabbitMQ stores it; the worker recognises and drops it
            wait_for(lambda: "duplicate message dropped" in worker.log(), 20, "the duplicate")
        else:  # JetStream drops it itself: the stream never holds it, so never delivers it
            assert gained == 0
        assert len(effects.events(ref.id, "done")) == 1
    finally:
        worker.stop()


def test_configuration_errors_name_the_fix(sqlite_url: str) -> None:
    with pytest.raises(ConfigurationError, match="is a store; --to takes a bus URL"):
        Relay(sqlite_url, sqlite_url.replace(".db", "-2.db"))
    with pytest.raises(ConfigurationError, match="same URL"):
        Relay(sqlite_url, sqlite_url)
    require("nats")
    with pytest.raises(ConfigurationError, match="is a message bus; --from takes the store"):
        Relay("nats://127.0.0.1:4222?prefix=tb_relay_conf", "nats://127.0.0.1:4222")
    with pytest.raises(ConfigurationError, match="batch_size"):
        Relay(sqlite_url, "nats://127.0.0.1:4222?prefix=tb_relay_conf", batch_size=0)


# --------------------------------------------------------------------------- processes


def _relay_process(source: str, target: str, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "taskbasket", "relay", "--from", source, "--to", target,
             *args], cwd=ROOT, env=dict(os.environ, PYTHONPATH=PYTHONPATH),
            stdout=out, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("source_name", ["postgres"], indirect=True)
def test_a_relay_killed_mid_way_loses_nothing(
    outbox: Basket, bus_url: str, tmp_path: Path
) -> None:
    total = 3000
    refs = outbox.enqueue_many("stamp", [() for _ in range(total)], strict=False)
    log = tmp_path / "relay.log"
    held_by_the_dead = 0
    for _ in range(10):  # kill relays until one dies holding claimed tasks
        proc = _relay_process(outbox.url, bus_url, log, "--batch-size", "50",
                              "--lease-seconds", "1")

        def holding(relay: subprocess.Popen[bytes] = proc) -> bool:
            # a batch claimed and not yet recorded: kill it now (the batch may still end
            # before the signal lands; then the next relay is tried)
            return outbox.count(state="running") > 0 or relay.poll() is not None

        wait_for(holding, 30, "the relay to claim a batch")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        held_by_the_dead = outbox.count(state="running")
        if held_by_the_dead:
            break
    assert held_by_the_dead > 0, log.read_text()
    assert outbox.count(state="succeeded") < total  # killed mid-way
    survivor = _relay_process(outbox.url, bus_url, log, "--lease-seconds", "1")
    try:
        wait_for(lambda: outbox.count(state="succeeded") == total, 90,
                 "every task to be relayed after the crash")
    finally:
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(30) == 0, log.read_text()
    assert outbox.count() == total and outbox.count(state="failed") == 0
    effects = Effects(tmp_path / "effects.db")
    workers = [WorkerProcess(bus_url, effects.path, "--concurrency", "16",
                             app="tests.bus:app") for _ in range(2)]
    try:
        wait_for(lambda: len({e[0] for e in effects.events(event="done")}) == total, 120,
                 "the bus workers to run every task")
    finally:
        for worker in workers:
            worker.stop()
    ran = [e[0] for e in effects.events(event="done")]
    assert set(ran) == {r.id for r in refs}  # every committed task ran: none lost
    print(f"{total} tasks, {held_by_the_dead} held by the killed relay, "
          f"{len(ran) - total} duplicate runs")


@pytest.mark.parametrize("source_name", ["sqlite"], indirect=True)
def test_a_second_signal_stops_a_relay_stuck_on_its_bus_at_once(
    outbox: Basket, tmp_path: Path
) -> None:
    stuck = tmp_path / "stuck.fifo"
    os.mkfifo(stuck)  # nobody reads it: the relay's publish blocks, as on a hung broker
    ref = outbox.enqueue("send_email", ["a@example.com"])
    log = tmp_path / "relay.log"
    proc = _relay_process(outbox.url, f"file://{stuck}", log, "--lease-seconds", "1")
    try:
        wait_for(lambda: outbox.count(state="running") == 1, 30, "the relay to claim the task")
        proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "stopping after the batch in hand" in log.read_text(), 10,
                 "the first signal")
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(10) == 128 + signal.SIGINT, log.read_text()
        except subprocess.TimeoutExpired:
            pytest.fail(f"the relay ignored the second signal:\n{log.read_text()}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    bus = tmp_path / "bus.jsonl"  # nothing is lost: once the lease expires, it is relayed
    relay = Relay(outbox.url, f"file://{bus}")
    try:
        wait_for(lambda: relay.run_until_empty() == 1, 30, "the task to be relayed again")
    finally:
        relay.close()
    assert ref.id in bus.read_text()


def test_cli_relays_once_and_reports_counts(sqlite_url: str, tmp_path: Path) -> None:
    require("nats")
    url = make_bus_url("nats", unique_tag())
    basket = Basket(sqlite_url)
    try:
        basket.enqueue_many("job", [(i,) for i in range(5)])
        done = subprocess.run(
            [sys.executable, "-m", "taskbasket", "--json", "relay", "--from", sqlite_url,
             "--to", url, "--once"], cwd=ROOT, capture_output=True, text=True, timeout=60,
            env=dict(os.environ, PYTHONPATH=PYTHONPATH))
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"published": 5, "failed": 0, "deferred": 0}
        assert basket.count(state="succeeded") == 5
        missing = subprocess.run(
            [sys.executable, "-m", "taskbasket", "relay", "--to", url, "--once"],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={k: v for k, v in os.environ.items() if k != "TASKBASKET_URL"})
        assert missing.returncode == 2 and "relay needs the store to read" in missing.stderr
    finally:
        basket.close()
        drop("nats", url)
