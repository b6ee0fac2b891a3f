"""Flow control in the memory store: queue settings, paused queues skipped by every claim,
and the limited claim (the rule is ``backends.admission``), all under the store's lock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from taskbasket.backends.admission import Admission, candidate_pool
from taskbasket.backends.flow_params import (
    Candidate,
    ClaimLimits,
    QueueUpdateParams,
    StoredQueue,
    task_group,
)
from taskbasket.task import State

if TYPE_CHECKING:
    from taskbasket.backends.memory.store import Key, MemoryStore, Record


class MemoryFlow:
    """The memory backend's queue settings (mixed into ``MemoryBackend``)."""

    store: MemoryStore

    def queues_update(self, params: QueueUpdateParams) -> None:
        store = self.store
        with store.condition:
            store.queue_settings[params.name] = params.applied_to(
                store.queue_settings.get(params.name))
            store.wake()

    def queues_list(self) -> list[StoredQueue]:
        with self.store.condition:
            return sorted(self.store.queue_settings.values(), key=lambda q: q.name)


def unpaused(store: MemoryStore, keys: list[Key]) -> list[Key]:
    """The (queue, name) keys whose queue is not paused."""
    settings = store.queue_settings
    if not settings:
        return keys
    return [key for key in keys
            if not (key[0] in settings and settings[key[0]].paused)]


def admission(store: MemoryStore, limits: ClaimLimits, now: float) -> Admission:
    """The admission of a claim at ``now``: running tasks with a live lease and start
    records not expired (expired ones are dropped here)."""
    store.starts = [(expires, group) for expires, group in store.starts if expires > now]
    running: dict[tuple[str, str, str | None], int] = {}
    for _, task_id, version in store.leases:
        record = store.current(task_id, version)
        if (record is not None and record.state_value == State.RUNNING
                and isinstance(record.lease_expires_at, int | float)
                and record.lease_expires_at > now):
            group = (record.queue, record.name, record.limit_key)
            running[group] = running.get(group, 0) + 1
    starts: dict[str, int] = {}
    for _, group_text in store.starts:
        starts[group_text] = starts.get(group_text, 0) + 1
    return Admission(limits, [(*group, n) for group, n in running.items()],
                     starts.items(), now)


def take_limited(store: MemoryStore, keys: list[Key], by_created: bool, limit: int,
                 limits: ClaimLimits, now: float) -> list[Record]:
    """Choose among the heads of the due (queue, name, limit_key) groups of ``keys``
    under ``limits`` (the entries not chosen are put back); the chosen records, not yet
    changed, and their start records kept. (``by_created`` is not kept among keys:
    keys take turns, each in priority order.)"""
    decision = admission(store, limits, now)
    blocked_queues = set(decision.blocked_queues())
    blocked = set(decision.blocked_task_groups())
    wanted = {key for key in keys if key[0] not in blocked_queues}
    recency = {group: i for i, group in enumerate(limits.recent)}
    groups = sorted((g for g in store.due_by_group
                     if (g[0], g[1]) in wanted and (g[1], g[2]) not in blocked),
                    key=lambda g: (task_group(g[1], g[2]) in recency,
                                   recency.get(task_group(g[1], g[2]), 0)))
    popped: dict[tuple[str, str, str | None], list[Any]] = {}
    candidates: list[Candidate] = []
    for group in groups[:candidate_pool(limit)]:
        entries = store.pop_group(group, limit)
        popped[group] = entries
        candidates.extend(Candidate(entry[2], group[1], group[0], group[2])
                          for entry in entries)
    chosen = decision.choose(candidates, limit)
    chosen_ids = {candidate.id for candidate in chosen}
    for group, entries in popped.items():
        store.push_group(group, [entry for entry in entries if entry[2] not in chosen_ids])
    store.starts.extend((r.expires, r.group) for r in decision.start_records(chosen))
    return [store.tasks[candidate.id] for candidate in chosen]
