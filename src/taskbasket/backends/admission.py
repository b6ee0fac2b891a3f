"""The one rule of a limited claim, applied by every store inside its atomic claim.

A store that claims under ``ClaimLimits`` does, in one atomic step (a transaction that
limited claims serialize on, a lock, a script): read the running tasks with a live lease
(``running_rows``) and the start records still in their window (``start_rows``), build an
``Admission``, exclude the groups it says are full (``blocked_queues``,
``blocked_task_groups``), read due candidates, ``choose`` among them, claim the chosen and
write ``start_records``. Nothing here counts up or down: running is read from the leases
themselves, so a slot held by a dead worker frees when its lease ends, and no counter can
leak. Start records expire on their own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from taskbasket.backends.flow_params import (
    Candidate,
    ClaimLimits,
    FlowLimit,
    GroupKey,
    group_text,
    queue_group,
    task_group,
)

MAX_EXCLUDED_GROUPS = 200
"""A store excludes at most this many full task groups by name in its candidate query
(the others are skipped among the candidates)."""


@dataclass(frozen=True, slots=True)
class StartRecord:
    """A start that counts against a rate limit of ``group`` until ``expires``."""

    group: str
    expires: float


class Admission:
    """Decides which candidates a claim takes under ``limits`` at ``now`` (store seconds).

    ``running_rows`` are (queue, name, limit_key, count) of running tasks whose lease is
    live; ``start_rows`` are (group text, count) of start records not yet expired.
    """

    def __init__(self, limits: ClaimLimits,
                 running_rows: Iterable[tuple[str, str, str | None, int]],
                 start_rows: Iterable[tuple[str, int]], now: float) -> None:
        self.limits = limits
        self.now = now
        self.running: Counter[GroupKey] = Counter()
        for queue, name, key, count in running_rows:
            self.running[queue_group(queue)] += count
            self.running[task_group(name, key)] += count
        self.started: Counter[str] = Counter()
        for text, count in start_rows:
            self.started[text] += count

    def _limit(self, group: GroupKey) -> FlowLimit | None:
        kind, name, _ = group
        return (self.limits.queues if kind == "queue" else self.limits.tasks).get(name)

    def _room(self, group: GroupKey, taken: Counter[GroupKey]) -> bool:
        limit = self._limit(group)
        if limit is None:
            return True
        if (limit.concurrency is not None
                and self.running[group] + taken[group] >= limit.concurrency):
            return False
        return not (limit.rate is not None
                    and self.started[group_text(group)] + taken[group] >= limit.rate.count)

    def blocked_queues(self) -> list[str]:
        """Queues whose own limit is full: a claim takes nothing from them."""
        empty: Counter[GroupKey] = Counter()
        return sorted(q for q in self.limits.queues if not self._room(queue_group(q), empty))

    def blocked_task_groups(self) -> list[tuple[str, str | None]]:
        """(name, limit_key) groups whose limit is full, as far as running tasks and start
        records name them (a group with neither has room); at most MAX_EXCLUDED_GROUPS."""
        empty: Counter[GroupKey] = Counter()
        groups = {g for g in self.running if g[0] == "task"}
        groups.update(self._parse(text) for text in self.started)
        blocked = sorted(
            ((name, key) for kind, name, key in groups
             if kind == "task" and not self._room(("task", name, key), empty)),
            key=lambda g: (g[0], g[1] or ""))
        return blocked[:MAX_EXCLUDED_GROUPS]

    @staticmethod
    def _parse(text: str) -> GroupKey:
        kind, name, key = text.split("\x1f", 2)
        return (kind, name, key[1:] if key else None)

    def fair_order(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        """The candidates in turns by task group: one of each group per round, groups
        this worker served lately last (least lately first), each group's own order
        kept."""
        by_group: dict[GroupKey, list[Candidate]] = {}
        for candidate in candidates:
            by_group.setdefault(task_group(candidate.name, candidate.limit_key),
                                []).append(candidate)
        recency = {group: i for i, group in enumerate(self.limits.recent)}
        order = sorted(by_group, key=lambda g: (g in recency, recency.get(g, 0)))
        lanes = [by_group[group] for group in order]
        turns: list[Candidate] = []
        depth = 0
        while lanes:
            lanes = [lane for lane in lanes if depth < len(lane)]
            turns.extend(lane[depth] for lane in lanes)
            depth += 1
        return turns

    def choose(self, candidates: Sequence[Candidate], limit: int) -> list[Candidate]:
        """Up to ``limit`` candidates, in fair order, that every limit has room for."""
        taken: Counter[GroupKey] = Counter()
        chosen: list[Candidate] = []
        for candidate in self.fair_order(candidates):
            if len(chosen) >= limit:
                break
            groups = (queue_group(candidate.queue),
                      task_group(candidate.name, candidate.limit_key))
            if all(self._room(group, taken) for group in groups):
                chosen.append(candidate)
                for group in groups:
                    taken[group] += 1
        return chosen

    def start_records(self, chosen: Sequence[Candidate]) -> list[StartRecord]:
        """The start records of ``chosen`` for every rate-limited group they count in."""
        records: list[StartRecord] = []
        for candidate in chosen:
            for group in (queue_group(candidate.queue),
                          task_group(candidate.name, candidate.limit_key)):
                limit = self._limit(group)
                if limit is not None and limit.rate is not None:
                    records.append(StartRecord(group_text(group), self.now + limit.rate.period))
        return records


def candidate_pool(limit: int) -> int:
    """How many due candidates a limited claim reads: enough to skip full groups."""
    return max(limit * 4, 64)


MAX_SEEKS = 32
"""How many other task groups a limited claim looks for beyond its head of candidates."""


class FlowReads(Protocol):
    """What a store reads and writes inside its atomic limited claim (one transaction
    that limited claims serialize on); ``claim_under_limits`` calls them in order."""

    def running_rows(self) -> Iterable[tuple[str, str, str | None, int]]:
        """(queue, name, limit_key, count) of running tasks whose lease is live."""
        ...

    def start_rows(self) -> Iterable[tuple[str, int]]:
        """(group text, count) of start records not expired (dropping expired ones)."""
        ...

    def head(self, excluded_queues: Sequence[str], count: int) -> list[Candidate]:
        """The first ``count`` due candidates in the claim's order, outside
        ``excluded_queues`` (and paused queues)."""
        ...

    def seek(self, name: str, after_key: str | None) -> Candidate | None:
        """The first queued candidate of the first (``name``, limit_key) group whose key
        sorts after ``after_key`` ('' is the group of tasks without a key; None: from the
        first group); through an index on (name, limit_key, claim order)."""
        ...

    def take(self, chosen: Sequence[Candidate]) -> None:
        """Claim the chosen candidates (those still due)."""
        ...

    def record_starts(self, records: Sequence[StartRecord]) -> None: ...


def gather(reads: FlowReads, decision: Admission, limit: int,
           names: Sequence[str] | None) -> list[Candidate]:
    """The candidates of a limited claim: the head of the due tasks, and the heads of
    the groups after the one this worker served last (wrapping round once), so that a
    group behind thousands of another's tasks is seen. ``names`` are the claim's (None:
    any); groups are sought among those the limits name."""
    blocked = set(decision.blocked_task_groups())
    pool = candidate_pool(limit) if blocked else limit + 8
    found = [c for c in reads.head(decision.blocked_queues(), pool)
             if (c.name, c.limit_key) not in blocked]
    limited = sorted(n for n in decision.limits.tasks if names is None or n in names)
    if not limited:
        return found
    recent = decision.limits.recent
    name, key = ((recent[-1][1], recent[-1][2] or "") if recent and recent[-1][1] in limited
                 else (limited[0], None))
    index, wrapped, seen = limited.index(name), False, set()
    for _ in range(min(limit, MAX_SEEKS) + len(blocked) + len(limited)):
        candidate = reads.seek(limited[index], key)
        if candidate is None:  # the name's groups are done: the next name, from its first
            index = (index + 1) % len(limited)
            if index == 0:
                if wrapped:
                    break
                wrapped = True
            key = None
            continue
        group = (candidate.name, candidate.limit_key)
        if group in seen:
            break
        seen.add(group)
        key = candidate.limit_key or ""
        if group not in blocked:
            found.append(candidate)
    unique: dict[str, Candidate] = {}
    for candidate in found:
        unique.setdefault(candidate.id, candidate)
    return list(unique.values())


def claim_under_limits(reads: FlowReads, limits: ClaimLimits, limit: int, now: float,
                       names: Sequence[str] | None) -> list[Candidate]:
    """The limited claim, as every store runs it inside its atomic step: count, gather,
    choose, take, record starts; the candidates taken."""
    decision = Admission(limits, reads.running_rows(),
                         reads.start_rows() if limits.rated else (), now)
    chosen = decision.choose(gather(reads, decision, limit, names), limit)
    if chosen:
        reads.take(chosen)
        reads.record_starts(decision.start_records(chosen))
    return chosen


__all__ = ["MAX_EXCLUDED_GROUPS", "MAX_SEEKS", "Admission", "Candidate", "FlowReads",
           "StartRecord", "candidate_pool", "claim_under_limits", "gather"]
