"""The worker: claims tasks for its free slots, runs them, and records what happened.

Threads, each a loop with a one-step method that tests can call directly:

- the claim loop (``run_once``): claims up to the number of free slots, never more, and
  waits on the store's listener when nothing is due;
- the housekeeper (``heartbeat_once``): extends the leases of every task it holds every
  third of the visibility timeout;
- maintenance (``maintain_once``, :mod:`taskbasket.maintenance`): rescues expired leases,
  promotes due tasks and prunes old ones, while this worker is the store's elected leader;
- the completer (``complete_once``): records finished attempts in batches;
- the timeout watcher (``worker/deadlines.py``): abandons sync attempts that run past
  their timeout.

An outcome is recorded only while its lease is held (the store fences it), so a worker
that lost a lease can never overwrite the attempt that replaced it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING

from taskbasket.backends.base import (
    ClaimedTask,
    ClaimOrder,
    ClaimParams,
    ExpiredLease,
    FiniteBackend,
    LeaseExtendParams,
    Listener,
    Outcome,
    OutcomeKind,
    TaskFilter,
)
from taskbasket.errors import ConfigurationError
from taskbasket.events import Event, EventKind
from taskbasket.maintenance import Maintenance, MaintenanceReport, RetentionArg, parse_retention
from taskbasket.pool import Pool
from taskbasket.task import State
from taskbasket.validation import (
    MAX_LEASE,
    MAX_WORKER_INTERVAL,
    MAX_WORKER_WAIT,
    check_claim_order,
    check_name,
    check_seconds,
)
from taskbasket.worker.deadlines import DeadlineWatcher
from taskbasket.worker.executors import AsyncExecutor, ThreadExecutor, is_timeout
from taskbasket.worker.health import WorkerHealth
from taskbasket.worker.job import (
    Job,
    JobPhase,
    error_outcome,
    placeholder_outcome,
    timeout_outcome,
)
from taskbasket.worker.processes import ProcessExecutor
from taskbasket.worker.startup import reach_store, store_description, warn_unknown_names

if TYPE_CHECKING:
    from taskbasket.basket import Basket

log = logging.getLogger("taskbasket.worker")
task_log = logging.getLogger("taskbasket.tasks")
"""One line per task state change, with structured fields in ``extra``."""

_EVENT_OF = {
    OutcomeKind.SUCCEEDED: EventKind.SUCCEEDED,
    OutcomeKind.RETRY: EventKind.RETRYING,
    OutcomeKind.FAILED: EventKind.FAILED,
}


def _fields(job: Job, duration: float | None = None) -> dict[str, object]:
    """Structured log fields of a task, for JSON formatters and log shippers."""
    claimed = job.claimed
    return {"task_id": claimed.id, "task_name": claimed.name, "queue": claimed.queue,
            "attempt": claimed.attempts, "duration": duration}

COMPLETION_BATCH = 500
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
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"concurrency must be an int >= 1, got {concurrency!r}")
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
        self.backend = basket.backend
        self.retention = (dict(basket.retention) if isinstance(retention, _BasketsRetention)
                          else parse_retention(retention))
        self.maintenance = Maintenance.of_store(
            self.backend, holder=self.worker_id, interval=self.maintenance_interval,
            leader_ttl=min(self.visibility_timeout, LEADER_TTL_CAP), retention=self.retention,
            hooks=basket.hooks, backoff=self._rescue_backoff,
        )
        self.order = check_claim_order(order, self.backend)

        self._cond = threading.Condition()
        self._free = concurrency
        self._jobs: dict[str, Job] = {}
        self._stopping = threading.Event()
        self._closing = threading.Event()  # set once outcomes are flushed: threads exit
        self._stopped = threading.Event()
        self._started = False
        self._threads: list[threading.Thread] = []
        self._completions: queue.SimpleQueue[tuple[Job, Outcome] | None] = queue.SimpleQueue()
        self._pending_completions = 0
        self._claiming = 0
        self._deadlines = DeadlineWatcher(self._abandon_timed_out)
        self._listener: Listener | None = None
        self._threads_executor: ThreadExecutor | None = None
        self._async_executor: AsyncExecutor | None = None
        self._process_executor: ProcessExecutor | None = None
        self._last_store_error: str | None = None
        self.health = WorkerHealth()  # what /healthz and /readyz read (taskbasket.health)
        self.stats = {"claimed": 0, "succeeded": 0, "retried": 0, "failed": 0,
                      "released": 0, "timed_out": 0, "lost_leases": 0, "discarded": 0,
                      "unstored": 0}

    # ------------------------------------------------------------------ properties

    @property
    def names(self) -> list[str]:
        """The task names this worker claims: exactly those its basket has handlers for
        now (read at every claim, so ``basket.unregister`` takes effect at the next one)."""
        return sorted(self.basket.registry)

    @property
    def started(self) -> bool:
        return self._started

    @property
    def free_slots(self) -> int:
        with self._cond:
            return self._free

    @property
    def in_flight(self) -> int:
        """Tasks claimed and not yet recorded as finished."""
        with self._cond:
            return len(self._jobs)

    @property
    def abandoned_threads(self) -> int:
        """Threads left running a sync handler that overran its timeout."""
        return self._threads_executor.abandoned_threads if self._threads_executor else 0

    @property
    def pool(self) -> Pool:
        """The auto-scaling thread pool of sync handlers (started by ``start``)."""
        if self._threads_executor is None:
            raise RuntimeError("the worker has not been started")
        return self._threads_executor.pool

    @property
    def killed_children(self) -> int:
        """Child processes killed because a task in them ran past its timeout."""
        return self._process_executor.killed_children if self._process_executor else 0

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
        around = self.basket.hooks.around
        self._threads_executor = ThreadExecutor(
            self.min_concurrency, self.concurrency, self.idle_timeout, self._on_finished,
            self._on_started, around,
        )
        executors = {d.executor for d in self.basket.registry.values()}
        if "async" in executors:
            self._async_executor = AsyncExecutor(self._on_finished, self._on_started, around)
        if "process" in executors:
            self._process_executor = ProcessExecutor(
                min(self.processes, self.concurrency), self._on_finished, self._on_started,
                around,
            )
        self._listener = self.backend.listener(self.queues)
        log.info(
            "worker %s started: queues=%s concurrency=%d visibility_timeout=%ss tasks=%s",
            self.worker_id, ",".join(self.queues) if self.queues else "*", self.concurrency,
            self.visibility_timeout, ",".join(self.names),
        )
        warn_unknown_names(self.basket, self.backend, self.queues, self.names,
                           store_description(self.backend))
        for target, name in (
            (self._claim_loop, "claim"),
            (self._housekeeping_loop, "housekeeper"),
            (self._completion_loop, "completer"),
            (self._deadlines.run, "timeouts"),
        ):
            thread = threading.Thread(target=target, name=f"taskbasket-{name}", daemon=True)
            self._threads.append(thread)
            thread.start()
        self.maintenance.start()
        self.health.started()

    def run(self, *, install_signal_handlers: bool = True) -> None:
        """Run until SIGTERM or SIGINT (a second one exits at once), or until the input of
        a FiniteBackend (``file://``, ``stdin://``) is finished; blocks."""
        if install_signal_handlers:
            self._install_signal_handlers()
        self.start()
        try:
            while not self._stopping.is_set() and not self._input_finished():
                self._stopping.wait(0.1)
        finally:
            self.stop()

    def _input_finished(self) -> bool:
        """True once a FiniteBackend's input ran out and every task it gave is recorded."""
        if not (isinstance(self.backend, FiniteBackend) and not self._busy()
                and self.backend.finished()):
            return False
        log.info("worker %s: the input is exhausted and every task finished", self.worker_id)
        return True

    def _install_signal_handlers(self) -> None:
        def handle(signum: int, frame: FrameType | None) -> None:
            if self._stopping.is_set():
                log.warning("second signal: exiting at once; leases will expire")
                os._exit(128 + signum)
            log.info("signal %d: stopping gracefully (send it again to exit at once)", signum)
            self._stopping.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

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
        with self._cond:
            if getattr(self, "_stop_begun", False):
                stop_in_progress = True
            else:
                self._stop_begun = True
                stop_in_progress = False
            self._cond.notify_all()
        if stop_in_progress:
            self._stopped.wait()
            return
        if self._listener is not None:
            self._listener.close()
        self.maintenance.stop()  # resigns: another worker takes over at once
        # hand back what never started
        with self._cond:
            jobs = list(self._jobs.values())
        for job in jobs:
            if job.move(JobPhase.PENDING, JobPhase.RELEASED):
                self._record(job, Outcome(job.lease, OutcomeKind.RELEASED))
                self._release_slot()
        # let running ones finish
        deadline = time.monotonic() + grace
        with self._cond:
            while self._running_jobs() and time.monotonic() < deadline:
                self._cond.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            leftover = [j for j in self._jobs.values() if j.phase is JobPhase.RUNNING]
        for job in leftover:
            if job.move(JobPhase.RUNNING, JobPhase.ABANDONED):
                if self._async_executor is not None and job.async_task is not None:
                    self._async_executor.cancel(job)
                if self._threads_executor is not None and job.thread is not None:
                    self._threads_executor.abandon(job)
                error = RuntimeError(
                    f"interrupted: the worker stopped and the task did not finish within "
                    f"the {grace:g}s grace period"
                )
                self._record(job, error_outcome(job, error))
        # record everything, then stop the threads
        self._flush_completions(timeout=max(5.0, self.visibility_timeout))
        self._completions.put(None)
        if self._threads_executor is not None:
            self._threads_executor.shutdown()
        if self._async_executor is not None:
            self._async_executor.shutdown()
        if self._process_executor is not None:
            self._process_executor.shutdown()
        self._closing.set()
        self._deadlines.close()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._stopped.set()
        log.info("worker %s stopped: %s", self.worker_id, self.stats)

    def _running_jobs(self) -> bool:
        return any(j.phase is JobPhase.RUNNING for j in self._jobs.values())

    def __enter__(self) -> Worker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ claiming

    def run_once(self) -> int:
        """Claim up to the free slots and hand the tasks to executors; how many claimed."""
        with self._cond:
            free = self._free
        names = self.names
        if free <= 0 or self._stopping.is_set() or not names:
            return 0
        with self._cond:
            self._claiming += 1
        try:
            claimed = self.backend.tasks_claim(
                ClaimParams(
                    worker_id=self.worker_id, names=names, limit=free,
                    lease_seconds=self.visibility_timeout, queues=self.queues,
                    order=self.order,
                )
            )
            jobs: list[Job] = []
            unregistered: list[ClaimedTask] = []
            for task in claimed:  # one look-up each: a handler may be unregistered meanwhile
                definition = self.basket.registry.get(task.name)
                if definition is None:
                    unregistered.append(task)
                else:
                    jobs.append(Job(task, definition))
            with self._cond:
                self._free -= len(jobs)
                for job in jobs:
                    self._jobs[job.claimed.id] = job
        finally:
            with self._cond:
                self._claiming -= 1
        self.stats["claimed"] += len(jobs)
        for job in jobs:
            self._dispatch(job)
        if unregistered:
            self._hand_back(unregistered)
        return len(jobs)

    def _hand_back(self, tasks: list[ClaimedTask]) -> None:
        """Release claimed tasks whose handler was unregistered: queued again, unattempted."""
        self.backend.tasks_finish([Outcome(task.lease, OutcomeKind.RELEASED) for task in tasks])
        self.stats["released"] += len(tasks)
        log.info("handed back %d claimed task(s) whose handler was unregistered: %s",
                 len(tasks), ", ".join(sorted({task.name for task in tasks})))

    def _dispatch(self, job: Job) -> None:
        if job.definition.executor == "process":
            assert self._process_executor is not None
            self._process_executor.submit(job)
        elif job.definition.is_async:
            assert self._async_executor is not None
            self._async_executor.submit(job)
        else:
            assert self._threads_executor is not None
            self._threads_executor.submit(job)

    def _claim_loop(self) -> None:
        assert self._listener is not None
        failures = 0
        while not self._stopping.is_set():
            self.health.tick()
            with self._cond:
                while self._free <= 0 and not self._stopping.is_set():
                    self._cond.wait(self.poll_interval)
                    self.health.tick()  # busy, not stalled
                free = self._free
            if self._stopping.is_set():
                return
            try:
                claimed = self.run_once()
                failures = self._store_recovered(failures, "claim")
                if claimed < free:  # nothing more is due: sleep until woken or the poll
                    self._listener.wait(self.poll_interval)
            except Exception as exc:  # a store outage, or a listener that lost its server
                failures = self._store_failed(failures, "claim", exc)

    def _store_failed(self, failures: int, what: str, exc: Exception) -> int:
        """Log a store error once per outage and back off before the next try."""
        failures += 1
        self.health.store_failed()
        message = f"{type(exc).__name__}: {exc}"
        if failures == 1 or message != self._last_store_error:
            log.warning("%s failed, retrying with backoff: %s", what, message)
            self._last_store_error = message
        self._stopping.wait(min(5.0, 0.05 * 2 ** min(failures, 7)))
        return failures

    def _store_recovered(self, failures: int, what: str) -> int:
        self.health.store_answered()
        if failures:
            log.warning("%s works again after %d failed tries", what, failures)
            self._last_store_error = None
        return 0

    # ------------------------------------------------------------------ finishing

    def _on_started(self, job: Job) -> None:
        """Called by an executor as a handler starts, in the thread that will run it."""
        if job.definition.executor == "thread":
            self._deadlines.watch(job)
        claimed = job.claimed
        hooks = self.basket.hooks
        logging_tasks = task_log.isEnabledFor(logging.INFO)
        if not (logging_tasks or hooks.wants(EventKind.STARTED)):
            return
        pickup = max(0.0, (datetime.now(UTC) - claimed.run_at).total_seconds())
        if logging_tasks:
            task_log.info("task %s (%s) started, attempt %d of %d", claimed.id, claimed.name,
                          claimed.attempts, claimed.max_attempts, extra=_fields(job))
        if hooks.wants(EventKind.STARTED):
            hooks.emit(Event(EventKind.STARTED, claimed.id, claimed.name, claimed.queue,
                             claimed.attempts, claimed.max_attempts, pickup_latency=pickup))

    def _on_finished(self, job: Job, error: BaseException | None) -> None:
        """Called by an executor when a handler returned or raised."""
        job.ended = time.monotonic()
        if job.definition.executor == "thread":
            self._deadlines.unwatch(job)
        if not job.move(JobPhase.RUNNING, JobPhase.DONE):
            self.stats["discarded"] += 1  # abandoned: its outcome was already recorded
            return
        self._release_slot()
        if isinstance(error, asyncio.CancelledError):
            if job.lease_lost:
                self._forget(job)  # the store no longer holds it for us
                return
            error = RuntimeError("the task was cancelled while the worker was stopping")
        if error is None:
            outcome = Outcome(job.lease, OutcomeKind.SUCCEEDED,
                              delete_on_success=job.definition.delete_on_success)
        elif is_timeout(error):
            self.stats["timed_out"] += 1
            outcome = timeout_outcome(job)
        else:
            outcome = error_outcome(job, error)
        self._record(job, outcome)

    def _release_slot(self) -> None:
        with self._cond:
            self._free += 1
            self._cond.notify_all()

    def _record(self, job: Job, outcome: Outcome) -> None:
        with self._cond:
            self._pending_completions += 1
        self._completions.put((job, outcome))

    def _forget(self, job: Job) -> None:
        with self._cond:
            self._jobs.pop(job.claimed.id, None)
            self._cond.notify_all()

    def complete_once(self, block: bool = True) -> int:
        """Record one batch of finished attempts; how many were in it.

        The batch is one call to the store. While the store is unreachable (an error the
        backend calls transient) that call is retried with backoff; any other error means
        the store refused some outcome in it, and the batch is recorded one outcome at a
        time instead (``_finish_one_by_one``), so one unstorable outcome never holds back
        the others.
        """
        try:
            first = self._completions.get(timeout=self.poll_interval) if block else (
                self._completions.get_nowait()
            )
        except queue.Empty:
            return 0
        if first is None:
            self._completions.put(None)
            return 0
        batch = [first]
        while len(batch) < COMPLETION_BATCH:
            try:
                item = self._completions.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._completions.put(None)
                break
            batch.append(item)
        failures = 0
        recorded: list[tuple[Job, Outcome, bool | None]]
        while True:
            try:
                accepted = self.backend.tasks_finish([outcome for _, outcome in batch])
                self._store_recovered(failures, "recording outcomes")
                recorded = [(job, outcome, ok) for (job, outcome), ok in zip(
                    batch, accepted, strict=True)]
                break
            except Exception as exc:
                if not self.backend.is_transient(exc):
                    self._store_recovered(failures, "recording outcomes")
                    log.warning("the store refused a batch of %d outcomes (%s: %s); recording "
                                "them one by one", len(batch), type(exc).__name__, exc)
                    recorded = self._finish_one_by_one(batch)
                    break
                failures = self._store_failed(failures, "recording outcomes", exc)
                if self._closing.is_set():
                    return 0
        for job, outcome, ok in recorded:
            self._count(job, outcome, ok)
        with self._cond:
            for job, _ in batch:
                self._jobs.pop(job.claimed.id, None)
            self._pending_completions -= len(batch)
            self._cond.notify_all()
        return len(batch)

    def _finish_one_by_one(
        self, batch: Sequence[tuple[Job, Outcome]]
    ) -> list[tuple[Job, Outcome, bool | None]]:
        """Record each outcome alone; for each, the outcome recorded and whether its lease
        was current (None: it could not be stored at all and was dropped).

        An outcome the store refuses is recorded with a placeholder error naming the
        reason (``placeholder_outcome``); if even that is refused it is logged and dropped:
        its lease expires and the task runs again, so nothing is lost. Transient errors
        are retried with backoff, as for a batch.
        """
        return [(job, *self._finish_alone(job, outcome)) for job, outcome in batch]

    def _finish_alone(self, job: Job, outcome: Outcome) -> tuple[Outcome, bool | None]:
        """Record one outcome, else its placeholder; what was recorded, and the answer."""
        tried, failures = outcome, 0
        while True:
            try:
                [accepted] = self.backend.tasks_finish([tried])
                self._store_recovered(failures, "recording an outcome")
                return tried, accepted
            except Exception as exc:
                if self.backend.is_transient(exc):
                    failures = self._store_failed(failures, "recording an outcome", exc)
                    if self._closing.is_set():
                        return tried, None  # the worker exits: the lease will expire
                    continue
                claimed = job.claimed
                placeholder = placeholder_outcome(tried, exc) if tried is outcome else None
                if placeholder is None:
                    log.error("task %s (%s) attempt %d: the store refused its outcome %s "
                              "(%s: %s); dropped: its lease will expire and the task will "
                              "run again", claimed.id, claimed.name, claimed.attempts,
                              tried.kind.value, type(exc).__name__, exc)
                    return tried, None
                log.error("task %s (%s) attempt %d: the store refused its error text "
                          "(%s: %s); recording a placeholder error instead", claimed.id,
                          claimed.name, claimed.attempts, type(exc).__name__, exc)
                tried = placeholder

    def _count(self, job: Job, outcome: Outcome, accepted: bool | None) -> None:
        """Count and log a recorded outcome (``accepted`` None: dropped, unstorable)."""
        claimed = job.claimed
        if accepted is None:
            self.stats["unstored"] += 1
            return
        if not accepted:
            self.stats["lost_leases"] += 1
            log.warning(
                "task %s (%s) attempt %d: outcome %s discarded, the lease was lost "
                "(it expired or the task was cancelled)",
                claimed.id, claimed.name, claimed.attempts, outcome.kind.value,
            )
            return
        key = {
            OutcomeKind.SUCCEEDED: "succeeded", OutcomeKind.RETRY: "retried",
            OutcomeKind.FAILED: "failed", OutcomeKind.RELEASED: "released",
        }[outcome.kind]
        self.stats[key] += 1
        kind = _EVENT_OF.get(outcome.kind)
        if kind is None:
            return
        duration = (job.ended or time.monotonic()) - job.started if job.started else None
        fields = _fields(job, duration)
        if outcome.kind is OutcomeKind.FAILED:
            summary = " ".join((outcome.error or "").strip().splitlines()[-2:])
            task_log.error("task %s (%s) failed on attempt %d of %d: %s", claimed.id,
                           claimed.name, claimed.attempts, claimed.max_attempts, summary,
                           extra=fields)
        elif outcome.kind is OutcomeKind.RETRY:
            last_line = ((outcome.error or "").strip().splitlines() or [""])[-1]
            task_log.warning("task %s (%s) attempt %d failed, retrying in %.1fs: %s",
                             claimed.id, claimed.name, claimed.attempts, outcome.retry_delay,
                             last_line, extra=fields)
        elif task_log.isEnabledFor(logging.INFO):
            task_log.info("task %s (%s) succeeded in %.3fs", claimed.id, claimed.name,
                          duration or 0.0, extra=fields)
        hooks = self.basket.hooks
        if hooks.wants(kind):
            next_run = None
            if outcome.kind is OutcomeKind.RETRY:
                next_run = outcome.retry_at or datetime.now(UTC) + timedelta(
                    seconds=outcome.retry_delay)
            hooks.emit(Event(
                kind, claimed.id, claimed.name, claimed.queue, claimed.attempts,
                claimed.max_attempts, error=outcome.error, next_run_at=next_run,
                retry_delay=outcome.retry_delay if next_run else None, duration=duration,
            ))

    def _completion_loop(self) -> None:
        while True:
            self.complete_once()
            if self._closing.is_set() or (
                self._stopping.is_set() and getattr(self, "_stop_begun", False)
                and self._flushed_and_closed()
            ):
                return

    def _flushed_and_closed(self) -> bool:
        with self._cond:
            return self._pending_completions == 0 and self._completion_closed

    _completion_closed = False

    def _flush_completions(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending_completions and time.monotonic() < deadline:
                self._cond.wait(0.05)
            self._completion_closed = True
            left = self._pending_completions
        if left:
            log.error("%d outcomes could not be recorded before exit; their leases will "
                      "expire and the tasks will run again", left)

    # ------------------------------------------------------------------ leases, rescue

    def heartbeat_once(self) -> int | None:
        """Extend the leases of every task held; how many were lost (None: none held)."""
        with self._cond:
            jobs = [j for j in self._jobs.values() if not j.lease_lost]
        if not jobs:
            return None
        held = self.backend.leases_extend(
            LeaseExtendParams([j.lease for j in jobs], self.visibility_timeout)
        )
        lost = [j for j in jobs if j.claimed.id not in held]
        for job in lost:
            if job.phase is JobPhase.DONE:
                continue  # recorded meanwhile: not lost, just finished
            job.lease_lost = True
            log.warning("task %s (%s): lease lost (expired or cancelled); its result will "
                        "be discarded", job.claimed.id, job.claimed.name)
            if job.definition.is_async and self._async_executor is not None:
                self._async_executor.cancel(job)
        return len(lost)

    def maintain_once(self) -> MaintenanceReport:
        """Run every maintenance service once, now, leader or not (for tests)."""
        return self.maintenance.run_once()

    def _rescue_backoff(self, expired: ExpiredLease) -> float:
        """A rescued task waits its task's retry backoff, as after an exception."""
        definition = self.basket.registry.get(expired.name)
        return definition.backoff.delay(expired.attempts) if definition is not None else 0.0

    def _housekeeping_loop(self) -> None:
        next_heartbeat = time.monotonic() + self.heartbeat_interval
        failures = 0
        while not self._closing.is_set():
            now = time.monotonic()
            try:
                if now >= next_heartbeat:
                    next_heartbeat = now + self.heartbeat_interval
                    # only a call that reached the store proves it is back
                    if self.heartbeat_once() is not None:
                        failures = self._store_recovered(failures, "heartbeat")
            except Exception as exc:
                failures = self._store_failed(failures, "heartbeat", exc)
                next_heartbeat = min(next_heartbeat, time.monotonic() + 1.0)
                continue
            self._closing.wait(max(0.01, next_heartbeat - time.monotonic()))

    # ------------------------------------------------------------------ timeouts

    def _abandon_timed_out(self, job: Job) -> None:
        """Called by the deadline watcher when a sync attempt runs past its timeout."""
        if not job.move(JobPhase.RUNNING, JobPhase.ABANDONED):
            return
        self.stats["timed_out"] += 1
        log.warning(
            "task %s (%s) ran past its timeout of %gs: attempt recorded as timed out; "
            "its thread is abandoned and replaced (Python cannot stop a thread)",
            job.claimed.id, job.claimed.name, job.claimed.timeout,
        )
        self._record(job, timeout_outcome(job))
        self._release_slot()
        assert self._threads_executor is not None
        self._threads_executor.abandon(job)

    # ------------------------------------------------------------------ helpers for tests

    def run_until_empty(self, timeout: float = 30.0) -> None:
        """Start, work until no task is queued, retrying or in flight, then stop.

        Waits out retries' backoff; tasks scheduled for later are left alone. Raises
        TimeoutError if work remains after ``timeout`` seconds. For tests and scripts.
        """
        self.start()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not self._busy() and self._nothing_due() and not self._busy():
                    return
                with self._cond:
                    self._cond.wait(0.02)
            raise TimeoutError(f"tasks were still due or running after {timeout}s")
        finally:
            self.stop()

    def _busy(self) -> bool:
        with self._cond:
            return bool(self._jobs) or self._pending_completions > 0 or self._claiming > 0

    def _nothing_due(self) -> bool:
        self.maintenance.run_once(prune=False)
        ready = self.backend.tasks_count(TaskFilter(
            states=[State.QUEUED, State.RETRYING], queues=self.queues, names=self.names
        ))
        return ready == 0
