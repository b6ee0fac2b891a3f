"""Store-level Prometheus metrics: how many tasks each queue holds in each state.

``StoreCollector`` reads ``basket.stats()`` (one grouped count in the store) at most once
per ``cache_seconds`` (default 5 s), however often and however many Prometheus servers
scrape: a scrape costs the store nothing more than the cache allows. The trade-off is that
the numbers are up to ``cache_seconds`` old, which Prometheus' own scrape interval dwarfs.

prometheus-client is imported only when a collector is used, so this module imports
without it; ``pip install 'taskbasket[metrics]'`` brings it in.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from taskbasket.errors import ConfigurationError
from taskbasket.redaction import redact_text, redact_url
from taskbasket.task import State

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry

    from taskbasket.basket import Basket
    from taskbasket.worker import Worker

log = logging.getLogger("taskbasket.metrics")

DEFAULT_CACHE_SECONDS = 5.0
INSTALL_HINT = "pip install 'taskbasket[metrics]'"


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError as exc:
        raise ConfigurationError(
            f"Prometheus metrics need the prometheus-client package: {INSTALL_HINT}"
        ) from exc
    return prometheus_client


class StoreCollector:
    """A prometheus-client collector of ``taskbasket_tasks{queue,state}`` gauges.

    Every state of every queue present in the store is reported, zeros included, so a
    series does not vanish when its count drops to zero. ``taskbasket_store_up`` is 1 when
    the last read of the store worked and 0 when it failed (the task gauges are then left
    out rather than reported stale). A failed read is cached like a good one, so a store
    that is down is not hammered by scrapes either. Thread-safe: concurrent scrapes share
    one read.
    """

    def __init__(
        self,
        basket: Basket,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if cache_seconds < 0:
            raise ConfigurationError(f"cache_seconds must be >= 0, got {cache_seconds!r}")
        _prometheus()  # fail at construction, with the install hint, not at first scrape
        self.basket = basket
        self.cache_seconds = float(cache_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._stats: dict[tuple[str, State], int] | None = None

    def stats(self) -> dict[tuple[str, State], int] | None:
        """Counts per (queue, state), from the cache when it is fresh; None if unreadable."""
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self.cache_seconds:
                try:
                    self._stats = dict(self.basket.stats())
                except Exception as exc:
                    url = self.basket.url  # the error may quote it, or its password
                    log.warning("cannot read task counts from %s: %s", redact_url(url),
                                redact_text(str(exc), url))
                    self._stats = None
                self._read_at = self._clock()
            return self._stats

    def _families(self) -> tuple[Any, Any]:
        metrics_core = _prometheus().metrics_core
        tasks = metrics_core.GaugeMetricFamily(
            "taskbasket_tasks",
            f"Tasks in the store per queue and state (read at most every "
            f"{self.cache_seconds:g}s).",
            labels=["queue", "state"],
        )
        up = metrics_core.GaugeMetricFamily(
            "taskbasket_store_up", "1 if the last read of the task counts worked, else 0."
        )
        return tasks, up

    def describe(self) -> Iterator[Metric]:
        """The metric names, without reading the store (registering costs no query)."""
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        tasks, up = self._families()
        stats = self.stats()
        up.add_metric([], 0.0 if stats is None else 1.0)
        if stats is not None:
            for queue in sorted({q for q, _ in stats}):
                for state in State:
                    tasks.add_metric([queue, state.value], float(stats.get((queue, state), 0)))
            yield tasks
        yield up


def make_registry(
    basket: Basket, cache_seconds: float = DEFAULT_CACHE_SECONDS
) -> CollectorRegistry:
    """A registry of its own holding a ``StoreCollector`` for ``basket``."""
    registry: CollectorRegistry = _prometheus().CollectorRegistry(auto_describe=True)
    registry.register(StoreCollector(basket, cache_seconds))
    return registry


def serve_metrics(
    basket: Basket,
    port: int,
    host: str = "127.0.0.1",
    *,
    cache_seconds: float = DEFAULT_CACHE_SECONDS,
) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``/metrics`` on ``host:port`` from a daemon thread; returns (server, thread).

    Stop it with ``server.shutdown(); server.server_close()``. The collector has its own
    registry, so the process' default metrics are not mixed in.
    """
    registry = make_registry(basket, cache_seconds)
    server, thread = _prometheus().start_http_server(port, addr=host, registry=registry)
    return server, thread


class WorkerMetrics:
    """Metrics of one worker: outcomes, run time and pickup latency, fed by hooks, and
    gauges of its slots and thread pool read when scraped.

    - ``taskbasket_task_outcomes_total{name,queue,outcome}``: succeeded, retrying, failed,
      and lease_expired (an attempt whose worker died, requeued by the rescuer; one on the
      last attempt counts as failed). Maintenance runs on the store's elected leader, so
      that worker's metrics count the rescues of every worker.
    - ``taskbasket_task_run_seconds{name,queue}``: histogram of attempt durations
    - ``taskbasket_task_pickup_seconds{queue}``: from due (ready) to started
    - ``taskbasket_worker_slots``, ``taskbasket_worker_slots_busy``,
      ``taskbasket_worker_pool_threads``, ``taskbasket_worker_abandoned_threads``,
      ``taskbasket_worker_killed_children``
    """

    RUN_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900)
    PICKUP_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60)

    def __init__(self, worker: Worker, registry: CollectorRegistry) -> None:
        from taskbasket.events import Event, EventKind

        prometheus = _prometheus()
        self.worker = worker
        self.outcomes = prometheus.Counter(
            "taskbasket_task_outcomes", "Finished attempts by outcome.",
            ["name", "queue", "outcome"], registry=registry)
        self.run_seconds = prometheus.Histogram(
            "taskbasket_task_run_seconds", "How long attempts ran.", ["name", "queue"],
            buckets=self.RUN_BUCKETS, registry=registry)
        self.pickup_seconds = prometheus.Histogram(
            "taskbasket_task_pickup_seconds", "From a task becoming due to its start.",
            ["queue"], buckets=self.PICKUP_BUCKETS, registry=registry)

        def finished(event: Event) -> None:
            if event.name is None:
                return
            if event.kind is EventKind.LEASE_EXPIRED and event.next_run_at is None:
                return  # it ended failed: its failed event counts it
            labels = (event.name, event.queue or "")
            self.outcomes.labels(*labels, event.kind.value).inc()
            if event.duration is not None:
                self.run_seconds.labels(*labels).observe(event.duration)

        def started(event: Event) -> None:
            if event.pickup_latency is not None:
                self.pickup_seconds.labels(event.queue or "").observe(event.pickup_latency)

        worker.basket.on("succeeded", "retrying", "failed", "lease_expired")(finished)
        worker.basket.on("started")(started)
        registry.register(_WorkerCollector(worker))


class _WorkerCollector:
    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        gauge = _prometheus().metrics_core.GaugeMetricFamily
        worker = self.worker
        busy = worker.concurrency - worker.free_slots
        pool_threads = worker.pool.size if worker.started else 0
        for name, help_text, value in (
            ("taskbasket_worker_slots", "Slots (most tasks at once).", worker.concurrency),
            ("taskbasket_worker_slots_busy", "Slots running a task.", busy),
            ("taskbasket_worker_pool_threads", "Threads in the sync pool.", pool_threads),
            ("taskbasket_worker_abandoned_threads",
             "Threads left running a sync task past its timeout.", worker.abandoned_threads),
            ("taskbasket_worker_killed_children",
             "Child processes killed at a task's timeout.", worker.killed_children),
        ):
            yield gauge(name, help_text, value=float(value))


def serve_worker_metrics(
    worker: Worker, port: int, host: str = "127.0.0.1", *,
    cache_seconds: float = DEFAULT_CACHE_SECONDS,
) -> tuple[WSGIServer, threading.Thread]:
    """Serve the store's gauges and this worker's metrics on ``host:port`` at ``/metrics``,
    and the worker's ``/healthz`` and ``/readyz`` beside them (``taskbasket.health``)."""
    from taskbasket.health import health_app, serve_wsgi

    registry = make_registry(worker.basket, cache_seconds)
    WorkerMetrics(worker, registry)
    metrics_app = _prometheus().make_wsgi_app(registry)
    return serve_wsgi(health_app(worker, fallback=metrics_app), port, host)
