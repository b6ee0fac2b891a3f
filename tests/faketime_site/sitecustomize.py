"""Run at start-up by the subprocesses whose clock tests/faketime.py skews (it puts this
folder on their PYTHONPATH); does nothing in any other process.

libfaketime 0.9.10, leaving the monotonic clock true (``FAKETIME_DONT_FAKE_MONOTONIC=1``,
which its condition-variable waits need), fails ``clock_nanosleep(CLOCK_MONOTONIC,
TIMER_ABSTIME)`` with EINVAL, and ``time.sleep`` makes that call. Here ``time.sleep``
waits in ``select()`` instead, on the same true monotonic clock.
"""

from __future__ import annotations

import os

if os.environ.get("FAKETIME") and "faketime" in os.environ.get("LD_PRELOAD", ""):
    import select
    import time

    _monotonic = time.monotonic

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        deadline = _monotonic() + seconds
        while (left := deadline - _monotonic()) > 0:
            select.select([], [], [], left)

    time.sleep = _sleep
