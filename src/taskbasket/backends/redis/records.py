"""Task hashes and script replies of the Redis store as taskbasket's records. A field that
is missing or bad is left as it is stored, for ``backends/rows`` to report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from taskbasket.backends.base import ClaimedTask, ExpiredLease, StoredTask, stored_state
from taskbasket.backends.redis.times import from_us, optional_from_us
from taskbasket.backends.rows import expired_lease, lenient, stored_or_corrupt
from taskbasket.task import CorruptTask


def text(value: Any) -> str:
    """A reply value (bytes, as the client is not decoding) as text."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def expired(row: list[Any]) -> ExpiredLease:
    """A row of the expired script: the lease's fields, what is wrong with its hash, then
    the lost attempt's worker, start and the stored history (None where absent)."""
    values = [None if v is None else text(v) for v in row]
    return expired_lease(*values[:7], worker_id=values[7],
                         started_at=lenient(optional_from_us, values[8]), history=values[9])


def decode_hash(task_id: str, raw: Any) -> dict[str, str] | None:
    """A task hash (HGETALL reply as a dict or a flat list) as text, or None if gone."""
    if not raw:
        return None
    if isinstance(raw, dict):
        items = list(raw.items())
    else:
        items = list(zip(raw[::2], raw[1::2], strict=True))
    row = {text(k): text(v) for k, v in items}
    if "state" not in row:
        return None
    row["id"] = task_id
    return row


def stored(row: dict[str, str]) -> StoredTask:
    """A task hash as a record."""
    get: Callable[[str], Any] = row.get  # a field may be missing: reported, not raised
    return StoredTask(
        id=row["id"], name=get("name"), queue=get("queue"),
        state=stored_state(row["id"], row["state"]), payload=get("payload"),
        priority=lenient(int, get("priority")), attempts=lenient(int, get("attempts")),
        max_attempts=lenient(int, get("max_attempts")),
        timeout=lenient(float, get("timeout")), unique_key=get("unique_key"),
        last_error=get("last_error"), created_at=lenient(from_us, get("created_at")),
        run_at=lenient(from_us, get("run_at")),
        started_at=lenient(optional_from_us, get("started_at")),
        finished_at=lenient(optional_from_us, get("finished_at")),
        lease_expires_at=lenient(optional_from_us, get("lease_expires_at")),
        worker_id=get("worker_id"), result=get("result"), progress=get("progress"),
        workflow_id=get("workflow_id"),
        limit_key=get("limit_key") or None,
        snoozes=lenient(int, get("snoozes") or "0"), history=get("history"),
    )


def read_row(row: dict[str, str]) -> StoredTask | CorruptTask:
    """A task hash as a record, or as a corrupt task that names what is wrong."""
    return stored_or_corrupt(row.get("id"), lambda: stored(row))


def claimed(row: list[Any], token: str) -> ClaimedTask:
    """One task of the claim script's reply (a JSON array of strings)."""
    return ClaimedTask(
        id=row[0], name=row[1], queue=row[2], payload=row[3], priority=int(row[4]),
        attempts=int(row[5]), max_attempts=int(row[6]), timeout=float(row[7]),
        lease_token=token, created_at=from_us(row[8]), run_at=from_us(row[9]),
        unique_key=row[10] or None, limit_key=row[11] or None, snoozes=int(row[12]),
        history=row[13] or None,
    )


__all__ = ["claimed", "decode_hash", "read_row", "stored", "text"]
