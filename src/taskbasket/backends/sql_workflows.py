"""The workflow steps of the SQL stores (``workflow_params`` states the rules), run inside
the caller's transaction, so each lands in the same atomic step as the change that caused
it: a success and the release of its dependents, a failure and the cancel of theirs.

Each store supplies a ``WorkflowDialect`` (placeholders, its clock, how ids travel) and a
``Run``: one statement on the transaction's connection, returning its rows. The tables
are the store's tasks table (with ``waiting_on``, ``blocked_by`` and ``workflow_id``)
and its edges table (``task_id``, ``depends_on``, ``position``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from taskbasket.backends.params import NewTask
from taskbasket.backends.workflow_params import (
    BLOCKING_STATES,
    dependency_error,
    is_ready,
    unknown_dependency,
)
from taskbasket.task import State, TaskRef

Run = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
"""One statement and its parameters on the caller's transaction; its rows ([] if none)."""

CHUNK = 500
"""Ids per statement: well under every driver's limit of parameters."""

_BLOCKING = tuple(sorted(s.value for s in BLOCKING_STATES))


def _identity(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class WorkflowDialect:
    """One SQL store's way to write the workflow statements."""

    tasks: str
    edges: str
    mark: str
    """A plain placeholder: ``?`` or ``%s``."""
    now: str
    """The store's clock as SQL, in the unit of its time columns."""
    id_mark: str = ""
    """The placeholder of an id (default ``mark``), e.g. ``%s::uuid``."""
    id_select: str = "{column}"
    """How a stored id column is read, e.g. ``{column}::text``."""
    id_param: Callable[[str], Any] = _identity
    id_value: Callable[[Any], str] = str
    share_lock: str = ""
    """The clause that locks the rows a read returns against change until the
    transaction ends (``FOR SHARE``): an insert holds its dependencies so that none can
    finish unseen between the read of its state and the commit."""

    def ids(self, count: int) -> str:
        return ",".join([self.id_mark or self.mark] * count)

    def read_id(self, column: str) -> str:
        return self.id_select.format(column=column)


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


class WorkflowSteps:
    """The statements of one store's workflow steps, on one transaction's ``run``."""

    def __init__(self, dialect: WorkflowDialect, run: Run) -> None:
        self.d = dialect
        self.run = run

    def has_edges(self) -> bool:
        """Whether any task was ever inserted with a dependency (a cheap gate; in a
        store of concurrent writers, read in the finishing transaction after its update,
        which a dependent's insert holding the finished row has then committed)."""
        return bool(self.run(f"SELECT 1 FROM {self.d.edges} LIMIT 1", []))

    def any_dependents(self, ids: Sequence[str]) -> bool:
        """Whether any of ``ids`` has a dependent."""
        d = self.d
        return any(self.run(
            f"SELECT 1 FROM {d.edges} WHERE depends_on IN ({d.ids(len(chunk))}) LIMIT 1",
            [d.id_param(i) for i in chunk]) for chunk in _chunks(list(ids)))

    def _tasks(self, ids: Sequence[str], lock: bool = False,
               ) -> dict[str, tuple[str, str, str | None]]:
        """(name, state, last_error) of each stored task of ``ids`` (``lock``: held
        against change until the transaction ends)."""
        d = self.d
        found: dict[str, tuple[str, str, str | None]] = {}
        suffix = f" {d.share_lock}" if lock and d.share_lock else ""
        for chunk in _chunks(sorted(set(ids))):
            rows = self.run(
                f"SELECT {d.read_id('id')}, name, state, last_error FROM {d.tasks} "
                f"WHERE id IN ({d.ids(len(chunk))}) ORDER BY id{suffix}",
                [d.id_param(i) for i in chunk])
            for row in rows:
                found[d.id_value(row[0])] = (row[1], str(row[2]), row[3])
        return found

    # ------------------------------------------------------------------ insert

    def insert(self, tasks: Sequence[NewTask], refs: Sequence[TaskRef]) -> None:
        """After the rows of ``tasks`` were inserted (``refs``: what became of each):
        check their dependencies, keep the edges, set each one's workflow and its state
        (waiting, or cancelled after a dependency that ended failed or cancelled).
        Raises WorkflowError (the caller rolls back) for an unknown dependency."""
        d = self.d
        existing = {task.id: ref.id for task, ref in zip(tasks, refs, strict=True)}
        wanted = [existing.get(dep, dep) for task in tasks for dep in task.depends_on]
        known = self._tasks(wanted, lock=True) if wanted else {}
        for task, ref in zip(tasks, refs, strict=True):
            if not ref.created:
                continue
            if task.workflow_id is not None:
                self.run(f"UPDATE {d.tasks} SET workflow_id = {d.ids(1)} WHERE id = {d.ids(1)}",
                         [d.id_param(task.workflow_id), d.id_param(task.id)])
            if not task.depends_on:
                continue
            deps = [existing.get(dep, dep) for dep in task.depends_on]
            for dep in deps:
                if dep not in known:
                    raise unknown_dependency(task.id, dep)
            for position, dep in enumerate(deps):
                self.run(f"INSERT INTO {d.edges} (task_id, depends_on, position) "
                         f"VALUES ({d.ids(2)}, {d.mark})",
                         [d.id_param(task.id), d.id_param(dep), position])
            known[task.id] = self._place(task.id, task.name, deps, known)

    def _place(self, task_id: str, name: str, deps: Sequence[str],
               known: dict[str, tuple[str, str, str | None]]) -> tuple[str, str, str | None]:
        """Set a new dependent's state from its dependencies' states; its new row."""
        d = self.d
        blocker = next((dep for dep in deps if known[dep][1] in _BLOCKING), None)
        if blocker is not None:
            dep_name, dep_state, dep_error = known[blocker]
            error = dependency_error(blocker, dep_name, dep_state, dep_error)
            self.run(f"UPDATE {d.tasks} SET state = 'cancelled', finished_at = {d.now}, "
                     f"last_error = {d.mark}, blocked_by = {d.ids(1)}, "
                     f"waiting_on = {d.mark} WHERE id = {d.ids(1)}",
                     [error, d.id_param(blocker), self._unfinished(deps, known),
                      d.id_param(task_id)])
            return name, State.CANCELLED.value, error
        pending = self._unfinished(deps, known)
        if is_ready([State(known[dep][1]) for dep in deps]):
            return name, State.QUEUED.value, None
        self.run(f"UPDATE {d.tasks} SET state = 'waiting', waiting_on = {d.mark} "
                 f"WHERE id = {d.ids(1)}", [pending, d.id_param(task_id)])
        return name, State.WAITING.value, None

    @staticmethod
    def _unfinished(deps: Sequence[str], known: dict[str, tuple[str, str, str | None]]) -> int:
        return sum(1 for dep in deps if known[dep][1] != State.SUCCEEDED.value)

    # ------------------------------------------------------------------ release

    def release(self, succeeded: Sequence[str]) -> list[str]:
        """Each dependent of a just-succeeded task counts one dependency fewer; those
        waiting with none left become queued, due now. The ids of those."""
        d = self.d
        released: list[str] = []
        for task_id in succeeded:
            dependents = (f"SELECT task_id FROM {d.edges} WHERE depends_on = {d.ids(1)}")
            self.run(f"UPDATE {d.tasks} SET waiting_on = waiting_on - 1 "
                     f"WHERE id IN ({dependents})", [d.id_param(task_id)])
            rows = self.run(
                f"SELECT {d.read_id('id')} FROM {d.tasks} WHERE state = 'waiting' "
                f"AND waiting_on <= 0 AND id IN ({dependents})", [d.id_param(task_id)])
            for (ready,) in rows:
                self.run(f"UPDATE {d.tasks} SET state = 'queued', run_at = {d.now} "
                         f"WHERE id = {d.ids(1)} AND state = 'waiting'",
                         [d.id_param(d.id_value(ready))])
                released.append(d.id_value(ready))
        return released

    # ------------------------------------------------------------------ cascade

    def _children(self, parents: Sequence[str], state: str,
                  ) -> list[tuple[str, str]]:
        """(child, parent) of the dependents in ``state`` of ``parents``."""
        d = self.d
        pairs: list[tuple[str, str]] = []
        for chunk in _chunks(list(parents)):
            rows = self.run(
                f"SELECT {d.read_id('e.task_id')}, {d.read_id('e.depends_on')} "
                f"FROM {d.edges} e JOIN {d.tasks} c ON c.id = e.task_id "
                f"WHERE c.state = {d.mark} AND e.depends_on IN ({d.ids(len(chunk))})",
                [state, *(d.id_param(i) for i in chunk)])
            pairs.extend((d.id_value(r[0]), d.id_value(r[1])) for r in rows)
        return pairs

    def cascade(self, ended: Sequence[str]) -> int:
        """Cancel the waiting dependents of tasks that just ended failed or cancelled,
        and theirs in turn; how many were cancelled."""
        d = self.d
        cancelled = 0
        frontier = list(ended)
        while frontier:
            pairs = dict(self._children(frontier, State.WAITING.value))  # one parent each
            parents = self._tasks(list(pairs.values()))
            for child, parent in pairs.items():
                name, state, error = parents[parent]
                self.run(
                    f"UPDATE {d.tasks} SET state = 'cancelled', finished_at = {d.now}, "
                    f"last_error = {d.mark}, blocked_by = {d.ids(1)} "
                    f"WHERE id = {d.ids(1)} AND state = 'waiting'",
                    [dependency_error(parent, name, state, error), d.id_param(parent),
                     d.id_param(child)])
            frontier = list(pairs)
            cancelled += len(frontier)
        return cancelled

    # ------------------------------------------------------------------ restore

    def restore(self, retried: Sequence[str]) -> int:
        """Retried tasks with dependencies not all succeeded wait again; the dependents
        they had blocked wait again too (queued with none left), unless another of their
        dependencies still blocks them. How many dependents came back."""
        d = self.d
        for chunk in _chunks(list(retried)):
            self.run(f"UPDATE {d.tasks} SET state = 'waiting', blocked_by = NULL "
                     f"WHERE waiting_on > 0 AND state = 'queued' "
                     f"AND id IN ({d.ids(len(chunk))})", [d.id_param(i) for i in chunk])
        restored = 0
        frontier = list(retried)
        while frontier:
            pairs = self._children(frontier, State.CANCELLED.value)
            frontier = []
            for child, parent in pairs:
                if not self.run(f"SELECT 1 FROM {d.tasks} WHERE id = {d.ids(1)} "
                                f"AND blocked_by = {d.ids(1)}",
                                [d.id_param(child), d.id_param(parent)]):
                    continue
                if self._still_blocked(child):
                    continue
                self.run(
                    f"UPDATE {d.tasks} SET state = CASE WHEN waiting_on > 0 THEN 'waiting' "
                    f"ELSE 'queued' END, blocked_by = NULL, last_error = NULL, "
                    f"finished_at = NULL, attempts = 0, snoozes = 0, run_at = {d.now} "
                    f"WHERE id = {d.ids(1)}", [d.id_param(child)])
                frontier.append(child)
            restored += len(frontier)
        return restored

    def _still_blocked(self, child: str) -> bool:
        d = self.d
        return bool(self.run(
            f"SELECT 1 FROM {d.edges} e JOIN {d.tasks} p ON p.id = e.depends_on "
            f"WHERE e.task_id = {d.ids(1)} AND p.state IN ({d.mark}, {d.mark})",
            [d.id_param(child), *_BLOCKING]))

    # ------------------------------------------------------------------ inspection

    def dependencies(self, task_ids: Sequence[str]) -> dict[str, list[str]]:
        """The dependency ids of each task, in their given order."""
        d = self.d
        found: dict[str, list[str]] = {task_id: [] for task_id in task_ids}
        for chunk in _chunks(list(task_ids)):
            rows = self.run(
                f"SELECT {d.read_id('task_id')}, {d.read_id('depends_on')} FROM {d.edges} "
                f"WHERE task_id IN ({d.ids(len(chunk))}) ORDER BY task_id, position",
                [d.id_param(i) for i in chunk])
            for task_id, dep in rows:
                found.setdefault(d.id_value(task_id), []).append(d.id_value(dep))
        return found

    def retryable_ids(self, where: str, params: Sequence[Any], states: str) -> list[str]:
        """The ids of the tasks matching ``where`` in ``states`` (an SQL list)."""
        d = self.d
        rows = self.run(f"SELECT {d.read_id('id')} FROM {d.tasks} "
                        f"WHERE state IN {states} AND {where}", params)
        return [d.id_value(row[0]) for row in rows]


__all__ = ["CHUNK", "Run", "WorkflowDialect", "WorkflowSteps"]
