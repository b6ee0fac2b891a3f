"""Store-level Prometheus metrics, read from a real store of each backend."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from taskbasket import Basket, ConfigurationError, State
from taskbasket.metrics import StoreCollector, make_registry, serve_metrics
from tests.helpers import ROOT


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class StatsSpy:
    """Wraps the real backend's ``tasks_stats`` and counts the calls that reach the store."""

    def __init__(self, basket: Basket, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.fail: Exception | None = None
        backend = basket.backend
        real = backend.tasks_stats

        def tasks_stats() -> dict[tuple[str, State], int]:
            self.calls += 1
            if self.fail is not None:
                raise self.fail
            return real()

        monkeypatch.setattr(backend, "tasks_stats", tasks_stats)


@pytest.fixture
def basket(store_url: str) -> Iterator[Basket]:
    basket = Basket(store_url)

    @basket.task(queue="emails", max_attempts=1)
    def send_email(to: str) -> None:
        if to == "bad":
            raise ValueError("no such mailbox")

    @basket.task(queue="reports")
    def report(n: int) -> None:
        return None

    try:
        yield basket
    finally:
        basket.close()


def scrape(registry: Any) -> dict[str, dict[tuple[str, ...], float]]:
    """Every sample of the exposition text, by metric name and label values."""
    text = generate_latest(registry).decode()
    result: dict[str, dict[tuple[str, ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = tuple(sample.labels[k] for k in sorted(sample.labels))  # queue, state
            result.setdefault(sample.name, {})[key] = sample.value
    return result


def test_gauges_per_queue_and_state(basket: Basket) -> None:
    basket.enqueue("send_email", ["bad"])
    basket.enqueue("send_email", ["good"])
    basket.enqueue("report", [1])
    basket.worker(concurrency=2, visibility_timeout=5).run_until_empty(60)
    for n in range(3):
        basket.enqueue("report", [n])
    basket.enqueue("report", [9], delay=3600)

    metrics = scrape(make_registry(basket, cache_seconds=0))
    tasks = metrics["taskbasket_tasks"]
    expected = {("emails", s.value): 0.0 for s in State}
    expected |= {("reports", s.value): 0.0 for s in State}
    expected |= {("emails", "failed"): 1.0, ("emails", "succeeded"): 1.0,
                 ("reports", "succeeded"): 1.0, ("reports", "queued"): 3.0,
                 ("reports", "scheduled"): 1.0}
    assert tasks == expected  # every state of every queue, zeros included
    assert metrics["taskbasket_store_up"] == {(): 1.0}


def test_scrapes_within_the_cache_period_do_not_query_the_store(
    basket: Basket, monkeypatch: pytest.MonkeyPatch
) -> None:
    basket.enqueue("report", [1])
    spy = StatsSpy(basket, monkeypatch)
    clock = Clock()
    registry = CollectorRegistry()
    registry.register(StoreCollector(basket, cache_seconds=5, clock=clock))
    assert spy.calls == 0  # registering describes the metrics without a query

    for _ in range(5):
        assert scrape(registry)["taskbasket_tasks"][("reports", "queued")] == 1.0
        clock.now += 0.9
    assert spy.calls == 1

    basket.enqueue("report", [2])
    assert scrape(registry)["taskbasket_tasks"][("reports", "queued")] == 1.0  # cached
    assert spy.calls == 1
    clock.now += 1.0  # 5.5 s after the first read
    assert scrape(registry)["taskbasket_tasks"][("reports", "queued")] == 2.0
    assert spy.calls == 2


def test_an_unreadable_store_reports_down_and_is_cached_too(
    basket: Basket, monkeypatch: pytest.MonkeyPatch
) -> None:
    basket.enqueue("report", [1])
    spy = StatsSpy(basket, monkeypatch)
    spy.fail = ConnectionError("store is away")
    clock = Clock()
    registry = CollectorRegistry()
    registry.register(StoreCollector(basket, cache_seconds=5, clock=clock))
    for _ in range(3):
        metrics = scrape(registry)
        assert metrics["taskbasket_store_up"] == {(): 0.0}
        assert "taskbasket_tasks" not in metrics  # no stale numbers
    assert spy.calls == 1
    spy.fail = None
    clock.now += 5
    assert scrape(registry)["taskbasket_store_up"] == {(): 1.0}


def test_serve_metrics_over_http(basket: Basket, monkeypatch: pytest.MonkeyPatch) -> None:
    basket.enqueue("report", [1])
    spy = StatsSpy(basket, monkeypatch)
    server, thread = serve_metrics(basket, 0, cache_seconds=60)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        for _ in range(3):
            with urllib.request.urlopen(url, timeout=10) as response:
                body = response.read().decode()
            assert 'taskbasket_tasks{queue="reports",state="queued"} 1.0' in body
        assert spy.calls == 1
        assert "python_gc" not in body  # its own registry: only the store's metrics
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_metrics_command(sqlite_url: str) -> None:
    with Basket(sqlite_url) as basket:
        basket.enqueue("report", [1], queue="reports")
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskbasket", "--url", sqlite_url, "metrics", "--port", "0"],
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "src"), COLUMNS="300"),
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # blocks until the server is up (or the process ends)
        assert "/metrics" in line, line + proc.stderr.read()
        url = line.split(" on ", 1)[1].strip()
        with urllib.request.urlopen(url, timeout=10) as response:  # listening already
            body = response.read().decode()
        assert 'taskbasket_tasks{queue="reports",state="queued"} 1.0' in body
    finally:
        proc.terminate()
        proc.wait(30)


def test_importable_without_prometheus_client(
    basket: Basket, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = ("import sys; sys.modules['prometheus_client'] = None; "
            "import taskbasket, taskbasket.metrics, taskbasket.cli")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60,
                   env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if not installed
    with pytest.raises(ConfigurationError, match=r"pip install 'taskbasket\[metrics\]'"):
        StoreCollector(basket)
    with pytest.raises(ConfigurationError, match="prometheus-client"):
        serve_metrics(basket, 0)


def test_worker_metrics_count_outcomes_latency_and_pool(sqlite_url: str) -> None:
    import urllib.request

    from taskbasket.metrics import serve_worker_metrics

    basket = Basket(sqlite_url)

    @basket.task(max_attempts=1, queue="emails")
    def send(ok: bool) -> None:
        if not ok:
            raise ValueError("bounced")

    send.enqueue_many([(True,), (True,), (False,)])
    worker = basket.worker(concurrency=3, visibility_timeout=5)
    server, _ = serve_worker_metrics(worker, 0)
    try:
        worker.run_until_empty(30)
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        text = urllib.request.urlopen(url, timeout=10).read().decode()
    finally:
        server.shutdown()
        server.server_close()
        basket.close()
    assert 'taskbasket_task_outcomes_total{name="send",outcome="succeeded",queue="emails"} 2.0' \
        in text
    assert 'taskbasket_task_outcomes_total{name="send",outcome="failed",queue="emails"} 1.0' \
        in text
    assert 'taskbasket_task_run_seconds_count{name="send",queue="emails"} 3.0' in text
    assert 'taskbasket_task_pickup_seconds_count{queue="emails"} 3.0' in text
    assert "taskbasket_worker_slots 3.0" in text
    assert "taskbasket_worker_abandoned_threads 0.0" in text
    assert 'taskbasket_tasks{queue="emails",state="succeeded"}' in text


def test_worker_metrics_count_the_rescues_of_dead_workers(sqlite_url: str) -> None:
    from taskbasket.backends.base import ClaimParams, LeasesExpiredParams
    from taskbasket.metrics import WorkerMetrics
    from tests.helpers import wait_for

    basket = Basket(sqlite_url)

    @basket.task(queue="emails", max_attempts=2)
    def send() -> None: ...

    send.enqueue()
    send.options(max_attempts=1).enqueue()
    basket.backend.tasks_claim(ClaimParams("a worker that dies", ["send"], 2, 0.05))
    wait_for(lambda: len(basket.backend.leases_expired(LeasesExpiredParams())) == 2, 10,
             "the leases to expire")
    registry = CollectorRegistry()
    worker = basket.worker(retention=None)
    WorkerMetrics(worker, registry)
    report = worker.maintain_once()
    assert len(report.requeued) == 1 and len(report.failed) == 1
    labels = {"name": "send", "queue": "emails"}
    outcomes = "taskbasket_task_outcomes_total"
    assert registry.get_sample_value(outcomes, {**labels, "outcome": "lease_expired"}) == 1.0
    assert registry.get_sample_value(outcomes, {**labels, "outcome": "failed"}) == 1.0
    basket.close()
