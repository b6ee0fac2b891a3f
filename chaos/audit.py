"""The chaos audit: what became of every task the store acknowledged.

The ledger is the list of ids that ``enqueue_many`` returned, kept by the harness, never
the store's own listing: a task the store lost is missing from its listing too, so only
an outside record can show it. The effects log (written by the handlers, outside the
store) says which attempts started, which ended, and how often each task ran to its end.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from tests.helpers import Effects

from taskbasket import Basket, State


@dataclass
class ChaosReport:
    """One chaos round's figures; ``passed`` is the verdict, ``problems`` says why not."""

    store: str
    seed: int
    server: str = "shared"
    records: bool = True
    """Whether the store keeps task records (a bus does not: ``stuck`` is not seen)."""
    tasks: int = 0
    """Acknowledged enqueues: the ledger's size."""
    succeeded: int = 0
    lost: int = 0
    """Ledger ids the store does not have, or marked succeeded without their effect."""
    stuck: int = 0
    not_succeeded: dict[str, int] = field(default_factory=dict)
    unacknowledged: int = 0
    """Tasks stored by an enqueue whose reply was lost (it raised): not in the ledger."""
    enqueue_errors: int = 0
    kills: int = 0
    interrupted: int = 0
    """Tasks with an attempt that started and never reached its end (a kill, a cut, a
    restart): the proof that the chaos hit work in flight."""
    reruns: int = 0
    """Tasks started on more than one attempt."""
    connection_cuts: int = 0
    server_restarts: int = 0
    downtime: float = 0.0
    executions: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)

    def problems(self) -> list[str]:
        found = []
        if self.lost:
            found.append(f"{self.lost} acknowledged tasks lost")
        if self.stuck:
            found.append(f"{self.stuck} tasks stuck running")
        if self.succeeded != self.tasks:
            found.append(f"{self.succeeded} of {self.tasks} succeeded ({self.not_succeeded})")
        if self.tasks == 0:
            found.append("nothing was enqueued")
        if self.interrupted == 0:
            found.append("no task was interrupted: the run proved nothing")
        return found

    @property
    def passed(self) -> bool:
        return not self.problems()

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed, "problems": self.problems()}


def audit_effects(report: ChaosReport, ledger: set[str], effects: Effects) -> set[str]:
    """Fill in the figures the effects log gives; returns the ids that ran to their end."""
    rows = effects.events()
    started = {(row[0], row[1]) for row in rows if row[2] == "start"}
    ended = {(row[0], row[1]) for row in rows if row[2] == "done"}
    done = Counter(row[0] for row in rows if row[2] == "done")
    report.executions = sum(done.values())
    report.duplicates = sum(n - 1 for n in done.values() if n > 1)
    report.interrupted = len({task for task, attempt in started - ended})
    attempts = Counter(task for task, _ in started)
    report.reruns = sum(1 for n in attempts.values() if n > 1)
    return set(done)


def audit_records(report: ChaosReport, ledger: set[str], basket: Basket,
                  effects: Effects, all_tasks: list[Any]) -> None:
    """The audit of a store that keeps task records: every ledger id must be stored,
    succeeded, with its effect; none running."""
    ran = audit_effects(report, ledger, effects)
    stored = {task.id: task for task in all_tasks}
    report.lost = len(ledger - set(stored))
    report.unacknowledged = len(set(stored) - ledger)
    mine = [task for task_id, task in stored.items() if task_id in ledger]
    states = Counter(task.state for task in mine)
    report.succeeded = states.get(State.SUCCEEDED, 0)
    report.stuck = sum(1 for task in stored.values() if task.state is State.RUNNING)
    report.not_succeeded = {s.value: n for s, n in states.items() if s is not State.SUCCEEDED}
    no_effect = [t for t in mine if t.state is State.SUCCEEDED and t.id not in ran]
    report.lost += len(no_effect)  # succeeded without its effect: lost work
    report.succeeded -= len(no_effect)


def audit_bus(report: ChaosReport, ledger: set[str], effects: Effects, failed: int) -> None:
    """The audit of a message bus, which keeps no task records: every ledger id must have
    run to its end (its effect is in the log); ``failed`` is the dead letters' count."""
    ran = audit_effects(report, ledger, effects)
    report.records = False
    report.succeeded = len(ledger & ran)
    report.lost = len(ledger - ran)
    report.unacknowledged = len(ran - ledger)
    if failed:
        report.not_succeeded = {"failed": failed}
