"""A scenario's ledger: the ids the store acknowledged (what ``enqueue_many`` returned,
kept by the harness) and the effects log the handlers wrote outside the store; the audit
says what became of each acknowledged task."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers import Effects

from taskbasket import Basket, State


@dataclass
class Ledger:
    """The acknowledged ids, and the effects file (None: the tasks have no effect)."""

    effects_path: Path | None = None
    ids: list[str] = field(default_factory=list)
    enqueue_errors: list[str] = field(default_factory=list)

    @property
    def effects(self) -> Effects | None:
        return Effects(self.effects_path) if self.effects_path is not None else None

    def enqueue(self, basket: Basket, name: str, calls: list[tuple[Any, ...]]) -> None:
        """Enqueue ``calls`` in one transaction; the ids go into the ledger only once the
        store acknowledged them (an error is kept, with its text, instead)."""
        refs = basket.enqueue_many(name, [(call, {}) for call in calls])
        self.ids.extend(ref.id for ref in refs)

    def audit(self, basket: Basket) -> dict[str, Any]:
        """lost (acknowledged and not succeeded, or succeeded without its effect), stuck
        (running), duplicates (effects beyond one per task) and executions."""
        wanted = set(self.ids)
        states: Counter[str] = Counter()
        succeeded: set[str] = set()
        stuck = 0
        for state in State:
            for task in all_tasks(basket, state):
                if task.id in wanted:
                    states[state.value] += 1
                    if state is State.SUCCEEDED:
                        succeeded.add(task.id)
                if state is State.RUNNING:
                    stuck += 1
        report: dict[str, Any] = {
            "tasks": len(wanted), "succeeded": len(succeeded),
            "not_succeeded": {k: v for k, v in states.items() if k != "succeeded"},
            "missing": len(wanted) - sum(states.values()), "stuck": stuck,
            "enqueue_errors": len(self.enqueue_errors),
        }
        lost = wanted - succeeded
        effects = self.effects
        if effects is not None:
            done = Counter(row[0] for row in effects.events(event="done") if row[0] in wanted)
            report["executions"] = sum(done.values())
            report["duplicates"] = sum(n - 1 for n in done.values() if n > 1)
            lost |= succeeded - set(done)  # succeeded without its effect: lost work
        report["lost"] = len(lost)
        return report


def effects_ledger(prefix: str) -> tuple[Path, Ledger]:
    """A new folder (for logs and the effects file) and a ledger with an effects log."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix=prefix))
    ledger = Ledger(folder / "effects.db")
    assert ledger.effects is not None  # made: the table exists before any worker writes
    return folder, ledger


def all_tasks(basket: Basket, state: State) -> list[Any]:
    """Every task in ``state`` (paged, bounded: at most 200 pages)."""
    found: list[Any] = []
    before = None
    for _ in range(200):
        page = basket.list(state, limit=5000, before=before, with_arguments=False)
        found.extend(page)
        if len(page) < 5000 or page.last_id is None:
            break
        before = page.last_id
    return found
