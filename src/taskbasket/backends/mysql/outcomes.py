"""Recording outcomes against leases on MySQL: which leases a call may use, which ones a
row still holds, and the statements that record a batch of outcomes so that running them
again after a lost reply is harmless and a later outcome on the same lease is refused."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from taskbasket.backends.base import Lease, Outcome, OutcomeKind, ProgressParams
from taskbasket.backends.mysql.session import Session
from taskbasket.backends.mysql.statements import (
    KINDS,
    chunks,
    outcomes_update,
    successes_update,
)
from taskbasket.backends.mysql.values import (
    datetime_literal,
    hex_literal,
    id_bytes,
    micros,
    quote,
)
from taskbasket.ids import new_token

LeaseRow = tuple[Lease, bytes]
"""A lease and its task's stored id."""


def lease_rows(leases: Iterable[Lease]) -> tuple[list[LeaseRow], dict[int, int]]:
    """The leases with valid ids, first occurrence only; and index -> position."""
    seen: set[bytes] = set()
    valid: list[LeaseRow] = []
    positions: dict[int, int] = {}
    for index, lease in enumerate(leases):
        raw = id_bytes(lease.task_id)
        if raw is None or raw in seen:
            continue
        seen.add(raw)
        positions[index] = len(valid)
        valid.append((lease, raw))
    return valid, positions


def held(session: Session, table: str, pairs: Sequence[LeaseRow], states: str,
         stamp: bytes = b"", *, lock: bool = False) -> set[str]:
    """Ids among ``pairs`` whose row is in ``states`` and carries the lease's token
    (followed by ``stamp``, for rows an outcome recorded); with ``lock``, their rows
    stay locked until the transaction ends."""
    ids = ",".join(hex_literal(raw) for _, raw in pairs)
    session.execute(
        f"SELECT id, lease_token FROM {table} WHERE id IN ({ids}) AND state IN {states}"
        + (" FOR UPDATE" if lock else "")
    )
    tokens = {bytes(raw): bytes(token or b"") for raw, token in session.fetchall()}
    return {
        lease.task_id for lease, raw in pairs
        if tokens.get(raw) == lease.token.encode("utf-8") + stamp
    }


def _deletes(outcome: Outcome) -> bool:
    """Whether recording ``outcome`` deletes its task (a success of delete_on_success)."""
    return outcome.kind is OutcomeKind.SUCCEEDED and outcome.delete_on_success


def _plain_success(outcome: Outcome) -> bool:
    """A success without a result: recorded by the plain update fenced per claim."""
    return (outcome.kind is OutcomeKind.SUCCEEDED and outcome.result is None
            and outcome.history is None)


_STATES_OF_KINDS = (
    ("('succeeded')", OutcomeKind.SUCCEEDED), ("('failed')", OutcomeKind.FAILED),
    ("('retrying')", OutcomeKind.RETRY), ("('queued')", OutcomeKind.RELEASED),
    ("('scheduled')", OutcomeKind.DEFERRED),
)


@dataclass
class OutcomeBatch:
    """The statements that record one call's outcomes (``plan_outcomes``), and what
    ``record`` needs to tell afterwards which ones were accepted."""

    table: str
    by_id: dict[str, Outcome]
    pairs: list[LeaseRow]
    """The leases whose rows the statements update."""
    deletes: list[LeaseRow]
    """Successes of delete_on_success tasks: their rows go."""
    statements: list[str]
    stamp: bytes

    @property
    def needs_transaction(self) -> bool:
        """One statement of final outcomes needs no transaction: if some lease was lost,
        the rows it finished keep their state and token for the check afterwards.
        Requeued rows could be claimed again before that check, so those need one."""
        final_only = all(
            self.by_id[lease.task_id].kind in (OutcomeKind.SUCCEEDED, OutcomeKind.FAILED)
            for lease, _ in self.pairs
        )
        return bool(self.deletes) or len(self.statements) > 1 or not final_only

    def record(self, session: Session) -> set[str]:
        """Run the statements; the ids of the tasks whose outcome was recorded."""
        deleted: set[str] = set()
        if self.deletes:
            deleted = held(session, self.table, self.deletes, "('running')", lock=True)
            gone = [raw for lease, raw in self.deletes if lease.task_id in deleted]
            if gone:
                session.execute(f"DELETE FROM {self.table} WHERE id IN "
                                f"({','.join(hex_literal(raw) for raw in gone)})")
        matched = 0
        for statement in self.statements:
            matched += session.execute(statement)
        if matched == len(self.pairs):
            return deleted | {lease.task_id for lease, _ in self.pairs}
        # Which ones: a row this call recorded carries its token and this call's stamp
        # (claims replace it, and every other change clears it), and this
        # transaction holds the rows it changed.
        accepted: set[str] = set()
        for state, kind in _STATES_OF_KINDS:
            group = [(lease, raw) for lease, raw in self.pairs
                     if self.by_id[lease.task_id].kind is kind]
            if group:
                accepted |= held(session, self.table, group, state, self.stamp)
        return deleted | accepted


def plan_outcomes(
    table: str, outcomes: Sequence[Outcome], pairs: list[LeaseRow], limit: int
) -> OutcomeBatch:
    """The batch that records ``outcomes`` (whose valid leases are ``pairs``), in
    statements of at most ``limit`` bytes."""
    by_id = {o.lease.task_id: o for o in reversed(outcomes)}  # first occurrence wins
    # Successes of delete_on_success tasks: their rows go, so no row is left to tell
    # afterwards whether the lease was held. They are checked and locked first, in the
    # same transaction, and only the held ones deleted.
    deletes = [(lease, raw) for lease, raw in pairs if _deletes(by_id[lease.task_id])]
    if deletes:
        pairs = [(lease, raw) for lease, raw in pairs if not _deletes(by_id[lease.task_id])]
    # A recorded outcome appends this call's stamp to the row's token: so the check
    # afterwards (also when the call runs again after a lost reply) finds the rows this
    # call recorded, and a later outcome sent with the same lease is refused.
    stamp = f"/{new_token()[:12]}".encode()
    stamped = f"lease_token = CONCAT(lease_token, {hex_literal(stamp)})"
    stamped_t = f"t.lease_token = CONCAT(t.lease_token, {hex_literal(stamp)})"
    # Successes, the bulk of outcomes, are fenced per claim (a claim gives its tasks
    # one token).
    by_token: dict[str, list[bytes]] = {}
    for lease, raw in pairs:
        if _plain_success(by_id[lease.task_id]):
            by_token.setdefault(lease.token, []).append(raw)
    fences = [
        f"(lease_token = {hex_literal(token.encode('utf-8'))} AND id IN "
        f"({','.join(hex_literal(raw) for raw in raws)}))"
        for token, raws in by_token.items()
    ]
    statements = [successes_update(table, chunk, stamped)
                  for chunk in chunks(fences, "task outcome", str, limit)]
    # The others carry an error, a retry time: a derived table of per-row values.
    rows: list[tuple[str, ...]] = []
    for lease, raw in pairs:
        outcome = by_id[lease.task_id]
        if _plain_success(outcome):
            continue
        error = "NULL" if outcome.error is None else quote(outcome.error)
        retry_at = (
            datetime_literal(outcome.retry_at)
            if outcome.retry_at is not None
            and outcome.kind in (OutcomeKind.RETRY, OutcomeKind.DEFERRED)
            else "NULL"
        )
        rows.append((
            hex_literal(raw), hex_literal(lease.token.encode("utf-8")), KINDS[outcome.kind],
            error, retry_at, str(micros(outcome.retry_delay)),
            "NULL" if outcome.result is None else quote(outcome.result),
            "NULL" if outcome.history is None else quote(outcome.history),
            str(int(outcome.snoozes_added)),
        ))
    statements.extend(outcomes_update(table, chunk, stamped_t)
                      for chunk in chunks(rows, "task outcome", ", ".join, limit))
    return OutcomeBatch(table, by_id, pairs, deletes, statements, stamp)


def progress_sql(table: str, params: ProgressParams) -> tuple[str, list[Any]] | None:
    """The UPDATE that records a progress report, fenced by its lease (None for an id
    that no task can have)."""
    pairs, _ = lease_rows([params.lease])
    if not pairs:
        return None
    lease, raw = pairs[0]
    return (f"UPDATE {table} SET progress = %s WHERE id = {hex_literal(raw)} AND "
            f"lease_token = {hex_literal(lease.token.encode('utf-8'))} AND state = 'running'",
            [params.progress])


__all__ = ["LeaseRow", "OutcomeBatch", "held", "lease_rows", "plan_outcomes",
           "progress_sql"]
