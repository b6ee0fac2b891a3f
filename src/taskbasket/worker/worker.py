"""The worker: claims tasks for its free slots, runs them, and records what happened.

``Worker`` is the facade; each job is a part of its own, with a one-step method that
tests can call directly:

- the claim loop (``run_once``, ``worker/claimer.py``): claims up to the number of free
  slots, never more, and waits on the store's listener when nothing is due;
- the housekeeper (``heartbeat_once``, ``worker/housekeeper.py``): extends the leases of
  every task it holds every third of the visibility timeout;
- maintenance (``maintain_once``, :mod:`taskbasket.maintenance`): rescues expired leases,
  promotes due tasks and prunes old ones, while this worker is the store's elected leader;
- the completer (``complete_once``, ``worker/completer.py``): records finished attempts
  in batches;
- the timeout watcher (``worker/deadlines.py``): abandons sync attempts that run past
  their timeout; ``worker/attempts.py`` turns each attempt's end into its outcome;
- the cancel watcher (``worker/cancels.py``): learns from the store's ``cancel_listener``
  (or by polling) that a task it holds was cancelled, and stops that attempt;
- telemetry (``worker/telemetry.py``): the ``stats`` counters, task log lines, events.

An outcome is recorded only while its lease is held (the store fences it), so a worker
that lost a lease can never overwrite the attempt that replaced it.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from taskbasket.backends.base import (
    Backend,
    ClaimOrder,
    ExpiredLease,
    FiniteBackend,
    Listener,
    Outcome,
)
from taskbasket.errors import ConfigurationError
from taskbasket.maintenance import Maintenance, MaintenanceReport, RetentionArg, parse_retention
from taskbasket.pool import Pool
from taskbasket.runtime import Outage, install_stop_signals
from taskbasket.schedules import Scheduler
from taskbasket.schedules.operations import announce_fired, slot_task, write_declared
from taskbasket.validation import (
    MAX_LEASE,
    MAX_WORKER_INTERVAL,
    MAX_WORKER_WAIT,
    check_claim_order,
    check_name,
    check_seconds,
)
from taskbasket.worker.attempts import Attempts
from taskbasket.worker.cancels import CancelWatcher
from taskbasket.worker.claimer import Claimer
from taskbasket.worker.completer import Completer
from taskbasket.worker.dispatcher import Dispatcher
from taskbasket.worker.health import WorkerHealth
from taskbasket.worker.housekeeper import Housekeeper
from taskbasket.worker.inflight import InFlight
from taskbasket.worker.job import Job
from taskbasket.worker.prefetch import check_prefetch
from taskbasket.worker.progress import ProgressWriter
from taskbasket.worker.registration import Registration
from taskbasket.worker.startup import reach_store, store_description, warn_unknown_names
from taskbasket.worker.telemetry import Telemetry, WorkerStats

if TYPE_CHECKING:
    from taskbasket.basket import Basket

log = logging.getLogger("taskbasket.worker")

LEADER_TTL_CAP = 30.0
"""A maintenance leader's term lasts the visibility timeout, at most this many seconds."""


class _BasketsRetention:
    """The default of ``Worker(retention=)``: the basket's."""


BASKETS_RETENTION = _BasketsRetention()


class Worker:
    """Runs the tasks of one basket.

    ``concurrency`` slots are shared by every executor; the worker never claims more tasks
    than it has free slots. Sync handlers run on a pool of threads that grows from
    ``min_concurrency`` while tasks wait and shrinks after ``idle_timeout`` idle seconds;
    async handlers share one event loop; ``executor="process"`` handlers run in
    ``processes`` child processes (default: one per core). ``visibility_timeout`` is the
    lease length in seconds; heartbeats renew it every third of it. On stop it hands
    unstarted tasks back and gives running ones ``grace_period`` seconds to finish. At start
    it waits up to ``wait_for_store`` seconds for a store that does not answer (0: it
    raises BackendUnavailableError at once); once running it retries a lost store for ever.

    While it is the elected leader of its store, the worker also runs the store's
    maintenance (see :mod:`taskbasket.maintenance`): expired leases are rescued and due
    tasks promoted every ``maintenance_interval`` seconds, and final tasks older than
    ``retention`` (the basket's unless given; None keeps every task) are deleted.
    ``order="priority"`` (the default) claims higher priority first, then earlier run_at,
    then earlier enqueue; ``order="created"`` claims earlier enqueue first, whatever the
    priority (a store that cannot raises UnsupportedOperationError here).

    ``prefetch`` (default: ``default_prefetch(concurrency)``) is how many tasks beyond
    its free slots a claim may take: they wait in the worker, leased, for a slot, so that
    the next task is at hand when one frees instead of a round trip to the store away. It
    is a cap, never exceeded; 0 claims for free slots only (strict lazy claiming: best
    for long tasks, which would otherwise keep a prefetched task from an idle worker).
    """

    def __init__(
        self,
        basket: Basket,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int = 8,
        min_concurrency: int = 1,
        idle_timeout: float = 60.0,
        processes: int | None = None,
        visibility_timeout: float = 30.0,
        poll_interval: float = 1.0,
        grace_period: float = 30.0,
        maintenance_interval: float | None = None,
        retention: RetentionArg | _BasketsRetention = BASKETS_RETENTION,
        worker_id: str | None = None,
        wait_for_store: float = 0.0,
        order: ClaimOrder | str = ClaimOrder.PRIORITY,
        prefetch: int | None = None,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"concurrency must be an int >= 1, got {concurrency!r}")
        self.prefetch = check_prefetch(prefetch, concurrency)
        self.basket = basket
        self.queues = [check_name("queue", q) for q in queues] if queues else None
        self.concurrency = concurrency
        if not 0 <= min_concurrency <= concurrency:
            raise ConfigurationError(
                f"min_concurrency must be within 0..concurrency ({concurrency}), got "
                f"{min_concurrency!r}"
            )
        self.min_concurrency = min_concurrency
        self.idle_timeout = check_seconds("idle_timeout", idle_timeout, allow_zero=False,
                                          maximum=MAX_WORKER_WAIT)
        self.processes = processes or os.cpu_count() or 1
        self.visibility_timeout = check_seconds(
            "visibility_timeout", visibility_timeout, allow_zero=False, maximum=MAX_LEASE
        )
        self.poll_interval = check_seconds("poll_interval", poll_interval, allow_zero=False,
                                           maximum=MAX_WORKER_INTERVAL)
        if self.poll_interval >= self.visibility_timeout * 10:
            raise ConfigurationError(
                f"poll_interval ({poll_interval}s) should be well below the visibility "
                f"timeout ({visibility_timeout}s)"
            )
        self.grace_period = check_seconds("grace_period", grace_period, allow_zero=True,
                                          maximum=MAX_WORKER_WAIT)
        self.wait_for_store = check_seconds("wait_for_store", wait_for_store, allow_zero=True,
                                            maximum=MAX_WORKER_WAIT)
        self.heartbeat_interval = self.visibility_timeout / 3
        if maintenance_interval is None:
            maintenance_interval = min(1.0, self.heartbeat_interval)
        self.maintenance_interval = check_seconds(
            "maintenance_interval", maintenance_interval, allow_zero=False,
            maximum=MAX_WORKER_INTERVAL)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self._backend = basket.backend
        self.retention = (dict(basket.retention) if isinstance(retention, _BasketsRetention)
                          else parse_retention(retention))
        self.maintenance = Maintenance.of_store(
            self._backend, holder=self.worker_id, interval=self.maintenance_interval,
            leader_ttl=min(self.visibility_timeout, LEADER_TTL_CAP), retention=self.retention,
            hooks=basket.hooks, backoff=self._rescue_backoff,
        )
        self.order = check_claim_order(order, self._backend)
        self.scheduler: Scheduler | None = (
            Scheduler(self._backend, names=lambda: self.names,
                      make_task=functools.partial(slot_task, basket),
                      on_fired=functools.partial(announce_fired, basket))
            if self._backend.capabilities.schedules else None)
        """Fires the due slots of the stored schedules of this worker's tasks (every
        worker runs one; the store's compare-and-set lets one of them fire each slot)."""

        self._stopping = threading.Event()  # set first: stop claiming
        self._closing = threading.Event()  # set once outcomes are flushed: threads exit
        self._stopped = threading.Event()
        self._started = False
        self._stop_lock = threading.Lock()
        self._stop_begun = False
        self._threads: list[threading.Thread] = []
        self._listener: Listener | None = None
        self.stats = WorkerStats()
        """Counters of this worker's attempts: ``stats["succeeded"]``, ``snapshot()``."""
        self.health = WorkerHealth()  # what /healthz and /readyz read (taskbasket.health)
        # (through self: the CLI replaces self.health with one of its own settings)
        outage = Outage(log, self._stopping, on_failure=lambda: self.health.store_failed(),
                        on_success=lambda: self.health.store_answered())
        telemetry = Telemetry(basket.hooks, self.stats)
        self._inflight = InFlight(concurrency, self.prefetch)
        self._dispatcher = Dispatcher(
            min_threads=self.min_concurrency, max_threads=concurrency,
            idle_timeout=self.idle_timeout, processes=min(self.processes, concurrency),
            around=basket.hooks.around,
        )
        self._completer = Completer(self._backend, self._inflight, telemetry, outage,
                                    self._closing, self.poll_interval)
        self._attempts = Attempts(self._inflight, self._completer, telemetry, self._dispatcher,
                                  ProgressWriter(self._backend), basket.max_result_bytes,
                                  slot_freed=lambda: self._claimer.start_waiting())
        self._deadlines = self._attempts.deadlines
        self._claimer = Claimer(
            basket, self._backend, worker_id=self.worker_id, queues=self.queues,
            lease_seconds=self.visibility_timeout, order=self.order,
            poll_interval=self.poll_interval, inflight=self._inflight,
            dispatcher=self._dispatcher, stats=self.stats, outage=outage,
            stopping=self._stopping, tick=lambda: self.health.tick(),
        )
        self._cancels = CancelWatcher(self._backend, self._inflight, self._attempts.cancelled,
                                      self._closing)
        self._housekeeper = Housekeeper(
            self._backend, self._inflight, self._dispatcher,
            lease_seconds=self.visibility_timeout, interval=self.heartbeat_interval,
            outage=outage, closing=self._closing, registration=Registration(
                self._backend, self.worker_id, queues=self.queues, names=lambda: self.names,
                busy=lambda: len(self._inflight), concurrency=concurrency,
                heartbeat_interval=self.heartbeat_interval),
        )

    # ------------------------------------------------------------------ properties

    @property
    def backend(self) -> Backend:
        """The store this worker claims from and records to: its basket's."""
        return self._backend

    @backend.setter
    def backend(self, backend: Backend) -> None:
        """Use another store object (tests wrap the store): every part uses it from now."""
        self._backend = backend
        self._claimer.backend = backend
        self._completer.backend = backend
        self._housekeeper.backend = backend
        self._cancels.backend = backend
        self._housekeeper.registration.backend = backend
        if self.scheduler is not None:
            self.scheduler.backend = backend

    @property
    def names(self) -> list[str]:
        """The task names this worker claims: exactly those its basket has handlers for
        now (read at every claim, so ``basket.unregister`` takes effect at the next one)."""
        return self._claimer.names

    @property
    def started(self) -> bool:
        return self._started

    @property
    def free_slots(self) -> int:
        return self._inflight.free

    @property
    def in_flight(self) -> int:
        """Tasks claimed and not yet recorded as finished."""
        return len(self._inflight)

    @property
    def abandoned_threads(self) -> int:
        """Threads left running a sync handler that overran its timeout."""
        return self._dispatcher.abandoned_threads

    @property
    def pool(self) -> Pool:
        """The auto-scaling thread pool of sync handlers (started by ``start``)."""
        return self._dispatcher.pool

    @property
    def killed_children(self) -> int:
        """Child processes killed because a task in them ran past its timeout."""
        return self._dispatcher.killed_children

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the worker's threads and return; ``stop`` ends them."""
        if self._started:
            raise RuntimeError("this worker has already been started")
        self._started = True
        if not self.names:
            raise ConfigurationError(
                "this basket has no tasks registered, so the worker would claim nothing; "
                "import the module that defines your @basket.task functions"
            )
        if not reach_store(self.backend, self.worker_id, self.wait_for_store, self._stopping):
            return  # stopped while waiting for the store
        self._dispatcher.open({d.executor for d in self.basket.registry.values()},
                              self._attempts.finished, self._attempts.started)
        self._listener = self.backend.listener(self.queues)
        if self.scheduler is not None and write_declared(self.basket):
            log.info("worker %s wrote its schedules: %s", self.worker_id,
                     ",".join(self.basket.declared_schedules))
        log.info(
            "worker %s started: queues=%s concurrency=%d prefetch=%d visibility_timeout=%ss "
            "tasks=%s", self.worker_id, ",".join(self.queues) if self.queues else "*",
            self.concurrency, self.prefetch, self.visibility_timeout, ",".join(self.names),
        )
        self._housekeeper.registration.beat()  # listed from its start
        warn_unknown_names(self.basket, self.backend, self.queues, self.names,
                           store_description(self.backend))
        targets: list[tuple[Callable[[], None], str]] = [
            (functools.partial(self._claimer.run, self._listener), "claim"),
            (self._housekeeper.run, "housekeeper"),
            (self._completer.run, "completer"),
            (self._deadlines.run, "timeouts"),
        ]
        if self.scheduler is not None:
            targets.append((functools.partial(self.scheduler.run, self._stopping), "scheduler"))
        if self.backend.capabilities.task_records:  # a bus keeps no cancelled task
            self._cancels.open()
            targets.append((self._cancels.run, "cancels"))
        for target, name in targets:
            thread = threading.Thread(target=target, name=f"taskbasket-{name}", daemon=True)
            self._threads.append(thread)
            thread.start()
        self.maintenance.start()
        self.health.started()

    def run(self, *, install_signal_handlers: bool = True) -> None:
        """Run until SIGTERM or SIGINT (a second one exits at once), or until the input of
        a FiniteBackend (``file://``, ``stdin://``) is finished; blocks."""
        if install_signal_handlers:
            install_stop_signals(
                self._stopping, log,
                "signal %d: stopping gracefully (send it again to exit at once)")
        self.start()
        try:
            while not self._stopping.is_set() and not self._input_finished():
                self._stopping.wait(0.1)
        finally:
            self.stop()

    def _input_finished(self) -> bool:
        """True once a FiniteBackend's input ran out and every task it gave is recorded."""
        if not (isinstance(self.backend, FiniteBackend) and not self._inflight.busy()
                and self.backend.finished()):
            return False
        log.info("worker %s: the input is exhausted and every task finished", self.worker_id)
        return True

    def stop(self, grace_period: float | None = None) -> None:
        """Stop claiming, hand unstarted tasks back, let running ones finish, then exit.

        Tasks still running after the grace period are recorded as interrupted (retried
        by their policy). Safe to call twice and from several threads.
        """
        grace = self.grace_period if grace_period is None else grace_period
        self._stopping.set()
        self.health.stopping()
        if not self._started or self._stopped.is_set():
            return
        with self._stop_lock:
            stop_in_progress, self._stop_begun = self._stop_begun, True
        self._inflight.wake_all()  # the claim loop, waiting for a slot, sees the stop
        if stop_in_progress:
            self._stopped.wait()
            return
        if self._listener is not None:
            self._listener.close()
        self.maintenance.stop()  # resigns: another worker takes over at once
        self._attempts.hand_back()
        leftover = self._inflight.wait_while_running(time.monotonic() + grace)
        self._attempts.interrupt(leftover, grace)
        self._attempts.progress.close()
        # record everything, then stop the threads
        self._completer.close(timeout=max(5.0, self.visibility_timeout))
        self._dispatcher.shutdown()
        self._closing.set()
        self._cancels.close()
        self._deadlines.close()
        self._inflight.wake_all()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._housekeeper.registration.remove()
        self._stopped.set()
        log.info("worker %s stopped: %s", self.worker_id, self.stats)

    def __enter__(self) -> Worker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ one step each

    def run_once(self) -> int:
        """Claim up to the free slots and hand the tasks to executors; how many claimed."""
        return self._claimer.claim_once()

    def complete_once(self, block: bool = True) -> int:
        """Record one batch of finished attempts; how many were in it (see
        :meth:`Completer.complete_once <taskbasket.worker.completer.Completer>`)."""
        return self._completer.complete_once(block)

    def heartbeat_once(self) -> int | None:
        """Extend the leases of every task held; how many were lost (None: none held)."""
        return self._housekeeper.heartbeat_once()

    def maintain_once(self) -> MaintenanceReport:
        """Run every maintenance service once, now, leader or not (for tests)."""
        return self.maintenance.run_once()

    def run_until_empty(self, timeout: float = 30.0) -> None:
        """Start, work until no task is queued, retrying or in flight, then stop.

        Waits out retries' backoff; tasks scheduled for later are left alone. Raises
        TimeoutError if work remains after ``timeout`` seconds. For tests and scripts
        (:mod:`taskbasket.testing.until_empty`).
        """
        from taskbasket.testing.until_empty import run_until_empty

        run_until_empty(self, self._inflight, timeout)

    def _record(self, job: Job, outcome: Outcome) -> None:
        """Hand an outcome to the completer (tests record fabricated ones this way)."""
        self._completer.record(job, outcome)

    def _rescue_backoff(self, expired: ExpiredLease) -> float:
        """A rescued task waits its task's retry backoff, as after an exception."""
        definition = self.basket.registry.get(expired.name)
        return definition.backoff.delay(expired.attempts) if definition is not None else 0.0
