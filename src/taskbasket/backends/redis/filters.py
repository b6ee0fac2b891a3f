"""Task filters for the Redis store: as the scripts' filter spec (``lib_spec.lua``), and as a
test of one decoded task hash (for filters the scripts do not apply: ids, finish times)."""

from __future__ import annotations

from taskbasket.backends.base import TaskFilter
from taskbasket.backends.redis.times import seconds_us
from taskbasket.task import ALL_STATES, FINAL_STATES, State


def filter_spec(
    task_filter: TaskFilter, allowed: frozenset[State] | None = None
) -> list[str] | None:
    """The filter's states (among ``allowed``), queues and names as script arguments: for
    each a count then the values, or -1 for any. None selects nothing."""
    states: list[str] | None = None
    if task_filter.states is not None:
        states = [State(s).value for s in dict.fromkeys(task_filter.states)]
    restrict = allowed
    if task_filter.finished_before is not None:
        restrict = FINAL_STATES if restrict is None else restrict & FINAL_STATES
    if restrict is not None:
        states = [s.value for s in ALL_STATES if s in restrict and (
            states is None or s.value in states)]
    args: list[str] = []
    for values in (states, task_filter.queues, task_filter.names):
        if values is None:
            args.append("-1")
            continue
        unique = [str(v) for v in dict.fromkeys(values)]
        if not unique:
            return None
        args.append(str(len(unique)))
        args.extend(unique)
    return args


def matches(row: dict[str, str], task_filter: TaskFilter, now_us: int) -> bool:
    """Whether a stored task (as decoded hash fields) matches a filter."""
    if task_filter.ids is not None and row["id"] not in {str(i) for i in task_filter.ids}:
        return False
    if task_filter.states is not None and row.get("state") not in {
        State(s).value for s in task_filter.states
    }:
        return False
    if task_filter.queues is not None and row.get("queue") not in set(task_filter.queues):
        return False
    if task_filter.names is not None and row.get("name") not in set(task_filter.names):
        return False
    if task_filter.finished_before is not None:
        finished = row.get("finished_at")
        if row.get("state") not in FINAL_STATES or finished is None:
            return False
        if not finished.isdigit():  # a corrupt hash: no time to compare
            return False
        if int(finished) >= now_us - seconds_us(task_filter.finished_before):
            return False
    return True


__all__ = ["filter_spec", "matches"]
