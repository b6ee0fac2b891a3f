"""The PostgreSQL store's outcome statements on a connection: one batch of outcomes,
fenced by their leases, in at most two statements (deletes of delete_on_success
successes, then the updates)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taskbasket.backends.params import Outcome, OutcomeKind
from taskbasket.backends.postgres.connections import Connection
from taskbasket.backends.postgres.filters import is_uuid
from taskbasket.backends.postgres.statements import Statements


def _deletes(outcome: Outcome) -> bool:
    """Whether recording ``outcome`` deletes its task (a success of delete_on_success)."""
    return outcome.kind is OutcomeKind.SUCCEEDED and outcome.delete_on_success


def finish_on(conn: Connection, statements: Statements, outcomes: Sequence[Outcome],
              done_channel: str, channel: str) -> list[bool]:
    """Record ``outcomes`` on ``conn`` (fenced by their leases, in id order so that
    concurrent batches lock rows alike); for each, whether its lease was current."""
    def fetch(query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return conn.execute(query, params).fetchall()

    order = sorted(
        (i for i, o in enumerate(outcomes) if is_uuid(o.lease.task_id)),
        key=lambda i: outcomes[i].lease.task_id,
    )
    accepted = [False] * len(outcomes)
    deleted = [i for i in order if _deletes(outcomes[i])]
    if deleted:
        order = [i for i in order if not _deletes(outcomes[i])]
        rows = fetch(statements.finish_delete, [
            deleted, [outcomes[i].lease.task_id for i in deleted],
            [outcomes[i].lease.token for i in deleted],
        ])
        for row in rows:
            accepted[row[0]] = True
    if not order:
        return accepted
    chosen = [outcomes[i] for i in order]
    args: list[Any] = [
        order, [o.lease.task_id for o in chosen], [o.lease.token for o in chosen],
        [o.kind.value for o in chosen], [o.error for o in chosen],
        [float(o.retry_delay) for o in chosen], [o.retry_at for o in chosen],
        [o.result for o in chosen], [o.history for o in chosen],
        [o.snoozes_added for o in chosen], done_channel,
    ]
    if any(o.kind is OutcomeKind.RELEASED for o in chosen):
        rows = fetch(statements.finish_notify, [*args, channel])
    else:
        rows = fetch(statements.finish, args)
    for row in rows:
        accepted[row[0]] = True
    return accepted


__all__ = ["finish_on"]
