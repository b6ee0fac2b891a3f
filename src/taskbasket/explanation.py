"""Why a task is not running now, in words: :func:`explain` (``basket.explain(task_id)``,
``taskbasket explain ID``, the dashboard's task page).

An explanation is the first answer of ``REASONS``, an ordered list of small reason
functions. Each takes the :class:`Facts` of one task (the task without its arguments, the
store's now, and the store's workers, read once on first use) and returns an
:class:`Explanation` when it applies, else None. The last one, ``waiting_for_a_slot``,
always applies, so every task gets an answer.

Flow control's reasons (``paused_queue``, ``limit_full``, ``rate_limited``) come after
the task's own state and before the workers'. **Adding a reason**: write a function
``def paused_queue(facts: Facts) -> Explanation | None`` that returns None unless it
applies, give its answer a new ``kind``, and insert it into ``REASONS`` where it belongs:
after the reasons of a task's own state (final, running, scheduled, retrying), which always
win, and before ``no_live_worker`` and ``waiting_for_a_slot``, which only describe a task
that could otherwise be claimed. The structured fields go into ``details`` (for example
``{"limit_key": "acct:7", "running": 5, "limit": 5}``), the sentence into ``reason``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from taskbasket import inspection
from taskbasket.backends.base import Backend, ListParams, StoredQueue, StoredTask, TaskFilter
from taskbasket.backends.flow_params import FlowLimit
from taskbasket.backends.workflow_params import DependenciesListParams
from taskbasket.task import State, Task
from taskbasket.workers import WorkerInfo, list_workers


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why task ``task_id`` is (not) running now; ``str()`` is the sentence (``reason``).

    ``kind`` names the reason in one word, for programs: ``final``, ``running``,
    ``scheduled``, ``retrying``, ``waiting`` (for dependencies), ``paused_queue``,
    ``limit_full``, ``rate_limited``, ``no_live_worker``, ``waiting_for_a_slot`` or
    ``unknown_task`` (more as reasons are added). ``state`` is the task's (None for an
    unknown task); ``at`` is the moment the reason names (when it runs, ran or finished);
    ``worker_id`` the worker holding it; ``served_names`` the task names the live workers
    serve; ``details`` any further fields of the reason.
    """

    task_id: str
    state: State | None
    kind: str
    reason: str
    at: datetime | None = None
    worker_id: str | None = None
    served_names: tuple[str, ...] = ()
    details: Mapping[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.reason

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict (times as ISO 8601)."""
        return {"task_id": self.task_id, "state": None if self.state is None else str(self.state),
                "kind": self.kind, "reason": self.reason,
                "at": None if self.at is None else self.at.isoformat(),
                "worker_id": self.worker_id, "served_names": list(self.served_names),
                "details": dict(self.details)}


@dataclass
class Facts:
    """What the reason functions read about one task."""

    task: Task
    now: datetime
    backend: Backend
    task_limits: Mapping[str, FlowLimit] = field(default_factory=dict)
    """The limits of the task names the asking basket declares (flow control)."""

    @functools.cached_property
    def queue(self) -> StoredQueue | None:
        """The task's queue's stored settings (paused, limits), if it has any."""
        if not self.backend.capabilities.flow_control:
            return None
        return next((q for q in self.backend.queues_list() if q.name == self.task.queue), None)

    def recent(self, task_filter: TaskFilter) -> list[StoredTask]:
        """The newest tasks of ``task_filter`` (at most ``FLOW_SCAN``), without payloads."""
        rows = self.backend.tasks_list(ListParams(task_filter, limit=FLOW_SCAN,
                                                  with_payload=False))
        return [row for row in rows if isinstance(row, StoredTask)]

    def in_group(self, row: StoredTask, keyed: bool) -> bool:
        """Whether ``row`` counts in the task's task group (``keyed``) or its queue's."""
        if keyed:
            return row.name == self.task.name and row.limit_key == self.task.limit_key
        return row.queue == self.task.queue

    @functools.cached_property
    def workers(self) -> list[WorkerInfo] | None:
        """Every worker row of the store (None when the store keeps no registry)."""
        if not self.backend.capabilities.worker_registry:
            return None
        return list_workers(self.backend, self.now)

    @property
    def live_workers(self) -> list[WorkerInfo]:
        return [worker for worker in self.workers or () if not worker.gone]

    def answer(
        self, kind: str, reason: str, *, at: datetime | None = None,
        worker_id: str | None = None, served_names: tuple[str, ...] = (),
        details: Mapping[str, object] | None = None,
    ) -> Explanation:
        """An Explanation of this task; ``reason`` becomes a sentence (capital, full stop)."""
        sentence = reason[:1].upper() + reason[1:] + ("" if reason.endswith(".") else ".")
        return Explanation(self.task.id, self.task.state, kind, sentence, at, worker_id,
                           served_names, dict(details or {}))


def when(moment: datetime, now: datetime) -> str:
    """``2026-12-01 22:30:00 UTC (in 5m 3s)`` or ``(... ago)``: a time and how far it is."""
    seconds = round((moment - now).total_seconds())
    span = _span(abs(seconds))
    relative = "now" if seconds == 0 else f"in {span}" if seconds > 0 else f"{span} ago"
    return f"{moment.strftime('%Y-%m-%d %H:%M:%S')} UTC ({relative})"


def _span(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "",
             f"{minutes}m" if minutes else "", f"{secs}s" if secs or seconds == 0 else ""]
    return " ".join(part for part in parts if part)


def final(facts: Facts) -> Explanation | None:
    task = facts.task
    if not task.state.is_final:
        return None
    finished = task.finished_at
    ended = f" at {when(finished, facts.now)}" if finished is not None else ""
    error = f"; the last error: {task.error_line}" if task.state is State.FAILED \
        and task.last_error else ""
    return facts.answer("final", f"it is final: {task.state}{ended}, after {task.attempts} "
                        f"attempt(s){error}; it will not run again", at=finished)


def running(facts: Facts) -> Explanation | None:
    task = facts.task
    if task.state is not State.RUNNING:
        return None
    holder = next((w for w in facts.workers or () if w.id == task.worker_id), None)
    since = f" since {when(task.started_at, facts.now)}" if task.started_at else ""
    where = f" on worker {task.worker_id}" if task.worker_id else ""
    if holder is not None:
        where += f" (host {holder.host}, pid {holder.pid})"
    lease = task.lease_expires_at
    if holder is not None and holder.gone and lease is not None:
        tail = (f"; that worker is gone (last seen {when(holder.last_seen_at, facts.now)}), "
                f"so the task comes back when its lease expires at {when(lease, facts.now)}")
    else:
        tail = f"; its lease runs until {when(lease, facts.now)}" if lease is not None else ""
    return facts.answer("running", f"it is running{where}{since}{tail}",
                        at=task.started_at, worker_id=task.worker_id)


def _waiting(facts: Facts, state: State, kind: str, words: str) -> Explanation | None:
    task = facts.task
    if task.state is not state:
        return None
    if task.run_at > facts.now:
        return facts.answer(kind, f"{words} {when(task.run_at, facts.now)}", at=task.run_at)
    return facts.answer(kind, f"{words} {when(task.run_at, facts.now)}, which has passed: "
                        "the store's maintenance makes it queued within a second or so "
                        "(while a worker runs it)", at=task.run_at)


def scheduled(facts: Facts) -> Explanation | None:
    return _waiting(facts, State.SCHEDULED, "scheduled", "it is scheduled for")


def retrying(facts: Facts) -> Explanation | None:
    task = facts.task
    words = f"attempt {task.attempts} of {task.max_attempts} failed"
    if task.last_error:
        words += f" ({task.error_line})"
    return _waiting(facts, State.RETRYING, "retrying", f"{words}; it is waiting for retry until")


def waiting(facts: Facts) -> Explanation | None:
    """A task of a workflow that waits for dependencies not succeeded yet (named)."""
    task = facts.task
    if task.state is not State.WAITING:
        return None
    deps = facts.backend.dependencies_list(DependenciesListParams([task.id])).get(task.id, [])
    rows = facts.recent(TaskFilter(ids=deps)) if deps else []
    done = {row.id for row in rows if row.state is State.SUCCEEDED}
    pending = [dep for dep in deps if dep not in done]
    listed = ", ".join(pending[:5]) + (f" and {len(pending) - 5} more" if len(pending) > 5
                                       else "")
    return facts.answer(
        "waiting", f"it is waiting for {len(pending)} of its {len(deps)} dependencies to "
        f"succeed ({listed}); it is queued when the last one does", details={
            "dependencies": deps, "pending": pending})


FLOW_SCAN = 5000
"""At most this many tasks of a group are read to explain a limit (newest first)."""


def _queued(facts: Facts) -> bool:
    return facts.task.state is State.QUEUED


def paused_queue(facts: Facts) -> Explanation | None:
    queue = facts.queue
    if not _queued(facts) or queue is None or not queue.paused:
        return None
    return facts.answer(
        "paused_queue", f"its queue {queue.name!r} is paused: no worker takes its tasks until "
        f"it is resumed (basket.resume_queue({queue.name!r}) or `taskbasket queue resume "
        f"{queue.name}`)", details={"queue": queue.name})


def _limits(facts: Facts) -> list[tuple[str, bool, FlowLimit]]:
    """(what, keyed, limit) of the limits the task counts in: its queue's, its task's."""
    found: list[tuple[str, bool, FlowLimit]] = []
    if facts.queue is not None:
        found.append((f"queue {facts.task.queue!r}", False, facts.queue.limit()))
    limit = facts.task_limits.get(facts.task.name)
    if limit is not None:
        key = facts.task.limit_key
        found.append((f"key {key!r}" if key else f"task {facts.task.name!r}", True, limit))
    return found


def limit_full(facts: Facts) -> Explanation | None:
    """A concurrency limit of its queue or its task (per limit key) is full."""
    if not _queued(facts):
        return None
    for what, keyed, limit in _limits(facts):
        if limit.concurrency is None:
            continue
        rows = facts.recent(TaskFilter(states=[State.RUNNING], queues=None if keyed else [
            facts.task.queue], names=[facts.task.name] if keyed else None))
        running = sum(1 for row in rows if facts.in_group(row, keyed)
                      and row.lease_expires_at is not None and row.lease_expires_at > facts.now)
        if running >= limit.concurrency:
            return facts.answer(
                "limit_full", f"its concurrency limit is full: running {running} of "
                f"{limit.concurrency} for {what}; it starts when one of them ends",
                details={"limit_of": what, "running": running, "limit": limit.concurrency,
                         "limit_key": facts.task.limit_key})
    return None


def rate_limited(facts: Facts) -> Explanation | None:
    """A rate limit of its queue or its task (per limit key) is reached, as the start
    times of the group's newest tasks show."""
    if not _queued(facts):
        return None
    for what, keyed, limit in _limits(facts):
        rate = limit.rate
        if rate is None:
            continue
        since = facts.now - timedelta(seconds=rate.period)
        rows = facts.recent(TaskFilter(
            states=[State.RUNNING, State.SUCCEEDED, State.FAILED, State.RETRYING],
            queues=None if keyed else [facts.task.queue],
            names=[facts.task.name] if keyed else None))
        starts = sorted(row.started_at for row in rows if facts.in_group(row, keyed)
                        and row.started_at is not None and row.started_at > since)
        if len(starts) >= rate.count:
            next_start = starts[-rate.count] + timedelta(seconds=rate.period)
            return facts.answer(
                "rate_limited", f"the rate limit {rate} of {what} is reached ({len(starts)} "
                f"started in the window); the next start can be at "
                f"{when(next_start, facts.now)}", at=next_start,
                details={"limit_of": what, "rate_limit": str(rate), "started": len(starts),
                         "limit_key": facts.task.limit_key})
    return None


def no_live_worker(facts: Facts) -> Explanation | None:
    """A queued task that no live worker claims: none has its name's handler, or none
    reads its queue."""
    task = facts.task
    if facts.workers is None or any(w.serves(task.name, task.queue) for w in facts.live_workers):
        return None
    live = facts.live_workers
    served = tuple(sorted({name for worker in live for name in worker.tasks}))
    if not live:
        reason = ("no live worker is registered with this store (none has sent a heartbeat "
                  "lately): start one with `taskbasket worker`")
    elif task.name not in served:
        reason = (f"no live worker has a handler for {task.name!r}; the {len(live)} live "
                  f"worker(s) serve: {', '.join(served) or '(nothing)'}")
    else:
        reading = sorted({q for w in live if task.name in w.tasks for q in w.queues or ()})
        reason = (f"the live workers with a handler for {task.name!r} do not read queue "
                  f"{task.queue!r} (they read: {', '.join(reading)})")
    return facts.answer("no_live_worker", reason, served_names=served,
                        details={"live_workers": len(live)})


def waiting_for_a_slot(facts: Facts) -> Explanation:
    """The fallback: a queued task that some worker could claim."""
    task = facts.task
    serving = [w for w in facts.live_workers if w.serves(task.name, task.queue)]
    if not serving:
        detail = ""
    else:
        busy = sum(w.busy for w in serving)
        slots = sum(w.concurrency for w in serving)
        detail = (f"; {len(serving)} live worker(s) serve it, {busy} of their {slots} slots "
                  "busy at their last heartbeat")
    return facts.answer(
        "waiting_for_a_slot",
        f"it is queued (due {when(task.run_at, facts.now)}, priority {task.priority}) and "
        f"waits its turn to be claimed{detail}", at=task.run_at,
        details={"serving_workers": len(serving)})


Reason = Callable[[Facts], "Explanation | None"]

REASONS: list[Reason] = [
    final,
    running,
    scheduled,
    retrying,
    waiting,
    paused_queue,
    limit_full,
    rate_limited,
    no_live_worker,
    waiting_for_a_slot,
]
"""The reason functions, in order: the first that answers explains the task."""


def explain(backend: Backend, task_id: str, now: datetime | None = None,
            task_limits: Mapping[str, FlowLimit] | None = None) -> Explanation:
    """Why task ``task_id`` is not running now (``now``: the store's clock unless given;
    ``task_limits``: the limits of the task names the caller declares)."""
    task = inspection.get_task(backend, str(task_id), with_arguments=False)
    if task is None:
        return Explanation(
            str(task_id), None, "unknown_task",
            f"No task {task_id} is stored: it was never enqueued to this store, or it was "
            "deleted (final tasks are pruned after the retention).")
    facts = Facts(task, backend.now() if now is None else now, backend, task_limits or {})
    for reason in REASONS:
        answer = reason(facts)
        if answer is not None:
            return answer
    raise AssertionError("waiting_for_a_slot always answers")  # pragma: no cover


__all__ = ["REASONS", "Explanation", "Facts", "Reason", "explain", "when"]
