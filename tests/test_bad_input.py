"""Bad input, tried systematically: each gets an error naming the problem and the fix, and
no stored task is lost or corrupted."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from taskbasket import Basket, ConfigurationError, StoreCorruptedError, TaskbasketError


@pytest.fixture
def basket(sqlite_url: str) -> Basket:
    b = Basket(sqlite_url)

    @b.task
    def job(*args: object, **kwargs: object) -> None: ...

    b.enqueue("job", args=["keep me"])  # a task that must survive every bad call below
    return b


def _survivor_intact(basket: Basket) -> None:
    tasks = basket.list(limit=100)
    assert [t.args for t in tasks if t.args == ["keep me"]] == [["keep me"]]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ([object()], {}, TypeError, r"args\[0\] \(of type object\)"),
        ([{1: "a"}], {}, TypeError, "dict key 1 of type int"),
        ([float("inf")], {}, TypeError, "float inf"),
        ([float("nan")], {}, TypeError, "float nan"),
        (["ok", "\ud800"], {}, TypeError, "lone surrogate"),
        ([], {"blob": b"bytes"}, TypeError, r"kwargs\['blob'\] \(of type bytes\)"),
        ([{1, 2}], {}, TypeError, "of type set"),
        (["x" * 2_000_000], {}, ConfigurationError, "over the limit"),
    ],
)
def test_bad_arguments(basket: Basket, args: list[object], kwargs: dict[str, object],
                       error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        basket.enqueue("job", args=args, kwargs=kwargs)
    assert basket.count() == 1
    _survivor_intact(basket)


def test_deeply_nested_arguments(basket: Basket) -> None:
    nested: list[object] = []
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(TypeError, match="nested more than 200 levels"):
        basket.enqueue("job", args=[nested])
    _survivor_intact(basket)


@pytest.mark.parametrize(
    ("name", "match"),
    [("", "non-empty"), ("x" * 201, "limit is 200"), ("bad\nname", "control characters"),
     (" padded", "surrounding spaces"), (42, "non-empty str")],
)
def test_bad_task_names(basket: Basket, name: object, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        basket.enqueue(name, args=[])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=match):
        basket.task(name=name)(print)  # type: ignore[arg-type]
    _survivor_intact(basket)


def test_duplicate_registration_is_refused(basket: Basket) -> None:
    with pytest.raises(ConfigurationError, match="already registered"):
        basket.task(name="job")(print)


def test_unknown_task_lookup_suggests(basket: Basket) -> None:
    from taskbasket import UnknownTaskError

    with pytest.raises(UnknownTaskError, match="Did you mean 'job'"):
        basket.get_definition("jbo")


@pytest.mark.parametrize(
    ("url", "match"),
    [("", "non-empty string"), ("tasks.db", "no scheme"), ("mongodb://x", "supported schemes"),
     ("sqlite://", "names no file"), ("http://example.com", "supported schemes")],
)
def test_bad_urls(url: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Basket(url).count()


def test_bad_limits_and_states(basket: Basket) -> None:
    with pytest.raises(ConfigurationError, match="limit must be >= 1"):
        basket.list(limit=0)
    with pytest.raises(ConfigurationError, match="unknown state 'done'"):
        basket.list("done")
    _survivor_intact(basket)


def _raw(basket: Basket) -> sqlite3.Connection:
    return sqlite3.connect(urlsplit(basket.url).path[1:], isolation_level=None)


def test_corrupted_state_is_reported_and_other_tasks_still_run(basket: Basket) -> None:
    bad = basket.enqueue("job", args=[1])
    _raw(basket).execute("UPDATE taskbasket_tasks SET state='exploded' WHERE id=?", (bad.id,))
    with pytest.raises(StoreCorruptedError, match="unknown state 'exploded'"):
        basket.get(bad.id)
    # it is never claimed, and the rest of the store keeps working
    basket.worker(concurrency=1, visibility_timeout=5).run_until_empty(30)
    assert basket.count("succeeded") == 1
    raw = _raw(basket).execute(
        "SELECT state, payload FROM taskbasket_tasks WHERE id=?", (bad.id,)).fetchone()
    assert raw == ("exploded", '{"args":[1],"kwargs":{}}')  # left for an operator


def test_corrupted_payload_fails_only_that_task(basket: Basket) -> None:
    bad = basket.enqueue("job", args=[1])
    _raw(basket).execute("UPDATE taskbasket_tasks SET payload=? WHERE id=?",
                         ('{"args": "not a list", "kwargs": {}}', bad.id))
    basket.worker(concurrency=1, visibility_timeout=5).run_until_empty(30)
    task = basket.get(bad.id)
    assert task is not None and task.state == "failed" and task.attempts == 1
    assert "cannot be decoded" in (task.last_error or "") and task.payload_error
    assert basket.count("succeeded") == 1


def test_errors_are_taskbasket_errors_or_builtins(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"\x00" * 4096 + b"junk")
    with pytest.raises(TaskbasketError):
        Basket(f"sqlite:///{path}").count()


def test_urls_in_messages_hide_passwords() -> None:
    from taskbasket.backends.base import redact_url

    assert redact_url("postgresql://u:secret@h:5432/db?schema=x") == (
        "postgresql://u:***@h:5432/db?schema=x")
    assert redact_url("redis://h/0?password=pw&prefix=a") == "redis://h/0?password=***&prefix=a"
    assert redact_url("sqlite:///a.db") == "sqlite:///a.db"
    with pytest.raises(ConfigurationError) as info:
        Basket("mongodb://admin:hunter2@db/x")
    assert "hunter2" not in str(info.value) and "admin:***@db" in str(info.value)


WEEK = 7 * 86400


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda b: b.task(name="slow", timeout=30 * 86400)(print),
         r"timeout=2592000 is over its limit of 7 days; pass at most 604800 seconds"),
        (lambda b: b.enqueue("job", timeout=WEEK + 1), "timeout=604801 is over its limit"),
        (lambda b: b.enqueue("job", timeout=float("inf")), "timeout must be a finite"),
        (lambda b: b.enqueue("job", delay=1e12), r"delay=1000000000000.0 is over its limit "
         "of 10 years"),
        (lambda b: b.task(name="b1", backoff=1e9)(print), "backoff=1000000000.0 is over"),
        (lambda b: b.clean(older_than="1000w"), "older_than=604800000.0 is over"),
        (lambda b: b.worker(visibility_timeout=2 * 86400), r"visibility_timeout=172800 is "
         "over its limit of 1 day"),
        (lambda b: b.worker(poll_interval=7200), "poll_interval=7200 is over its limit of "
         "1 hour"),
        (lambda b: b.worker(grace_period=2 * 86400), "grace_period=172800 is over"),
        (lambda b: b.worker(idle_timeout=2 * 86400), "idle_timeout=172800 is over"),
        (lambda b: b.worker(maintenance_interval=7200), "maintenance_interval=7200 is over"),
        (lambda b: b.worker(maintenance_interval=-1), "maintenance_interval must be > 0"),
    ],
)
def test_durations_are_bounded_where_they_are_given(
    basket: Basket, call: object, match: str
) -> None:
    """A duration past its bound (a timeout in milliseconds, say) is refused with the
    option, the bound and the fix, before it reaches a store or an executor."""
    with pytest.raises(ConfigurationError, match=match):
        call(basket)  # type: ignore[operator]
    assert basket.count() == 1
    _survivor_intact(basket)


def test_duration_bounds_of_policies_retries_and_the_relay() -> None:
    from taskbasket import ConstantBackoff, ExponentialBackoff, Retry
    from taskbasket.relay import Relay

    with pytest.raises(ConfigurationError, match=r"backoff cap=1000000000\.0 is over its limit "
                       "of 30 days"):
        ExponentialBackoff(cap=1e9)
    with pytest.raises(ConfigurationError, match=r"backoff=1000000000\.0 is over its limit"):
        ConstantBackoff(1e9)
    with pytest.raises(ConfigurationError, match=r"Retry delay=1000000000000\.0 is over its limit"):
        Retry("later", delay=1e12)
    with pytest.raises(ConfigurationError, match=r"lease_seconds=1000000\.0 is over its limit"):
        Relay("sqlite:///unused.db", "amqp://unused", lease_seconds=1e6)


def test_durations_at_their_bounds_are_accepted(basket: Basket) -> None:
    from taskbasket import Retry

    basket.task(name="week", timeout=WEEK)(print)
    ref = basket.enqueue("week", delay=3650 * 86400)
    task = basket.get(ref.id)
    assert task is not None and task.timeout == WEEK and task.state == "scheduled"
    assert Retry("later", delay=3650 * 86400).delay == 3650 * 86400
    basket.worker(visibility_timeout=86400, poll_interval=3600, grace_period=86400)
