"""Task ids: UUIDv7 strings, so ids sort by creation time on every store."""

from __future__ import annotations

import os
import random
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_sequence = 0


def new_task_id() -> str:
    """A time-ordered UUID (version 7); ids made in one process never go backwards."""
    return new_task_ids(1)[0]


def new_task_ids(count: int) -> list[str]:
    """``count`` ids, in order, as ``count`` calls of :func:`new_task_id` would make them
    within one millisecond (the lock and the clock are taken once, for a batch)."""
    global _last_ms, _sequence
    if count <= 0:
        return []
    stamps: list[tuple[int, int]] = []
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms, sequence = _last_ms, _sequence
        else:
            sequence = -1
        for _ in range(count):
            sequence += 1
            if sequence > 0xFFF:
                ms += 1
                sequence = 0
            stamps.append((ms, sequence))
        _last_ms, _sequence = ms, sequence
    # random is reseeded in a forked child, so processes never share a sequence
    bits = random.getrandbits
    ids = []
    for at, number in stamps:
        value = ((at & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | number << 64 | 0b10 << 62
                 | bits(62))
        h = f"{value:032x}"
        ids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids


def new_token() -> str:
    """A random lease token."""
    return os.urandom(12).hex()


def canonical_task_id(value: object, what: str) -> str:
    """``value`` as a stored task id (a UUID, lower case with dashes); a ConfigurationError
    naming ``what`` if it is not one."""
    try:
        return str(uuid.UUID(str(value))) if isinstance(value, str) else _not_an_id(value, what)
    except ValueError:
        return _not_an_id(value, what)


def _not_an_id(value: object, what: str) -> str:
    from taskbasket.errors import ConfigurationError

    raise ConfigurationError(
        f"{what} must be a task id, a UUID such as 01a2323f-b29c-7001-b147-eef3fbc19f0a "
        f"(for paging: the last id of the previous page), got {value!r}"
    )
