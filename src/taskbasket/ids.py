"""Task ids: UUIDv7 strings, so ids sort by creation time on every store."""

from __future__ import annotations

import os
import random
import threading
import time

_lock = threading.Lock()
_last_ms = 0
_sequence = 0


def new_task_id() -> str:
    """A time-ordered UUID (version 7); ids made in one process never go backwards."""
    global _last_ms, _sequence
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            _sequence += 1
            if _sequence > 0xFFF:
                ms += 1
                _sequence = 0
        else:
            _sequence = 0
        _last_ms = ms
        sequence = _sequence
    # random is reseeded in a forked child, so processes never share a sequence
    value = ((ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | sequence << 64 | 0b10 << 62
             | random.getrandbits(62))
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_token() -> str:
    """A random lease token."""
    return os.urandom(12).hex()
