"""libfaketime for tests: a subprocess whose wall clock is off by a fixed offset.

``skewed_env("+10m", library())`` is the environment that makes a child's ``time.time()``
(and ``datetime.now()``, and every C library's ``clock_gettime(CLOCK_REALTIME)``) read ten
minutes ahead; its monotonic clock stays true, so its timeouts and sleeps are unchanged
(tests/faketime_site/sitecustomize.py works around libfaketime's ``time.sleep`` bug).
Install it with ``apt-get install faketime``.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

from tests.helpers import PYTHONPATH
from tests.stores import is_required

SITE = Path(__file__).resolve().parent / "faketime_site"

_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
)


def library() -> str | None:
    for path in _CANDIDATES:
        if glob.glob(path):
            return path
    found = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
    return found[0] if found else None


def require(store: str) -> str:
    """The library's path; skips the test without it (fails if ``store`` is required)."""
    path = library()
    if path is None:
        reason = "libfaketime is not installed (apt-get install faketime)"
        if is_required(store):
            pytest.fail(f"{store} is required (TASKBASKET_REQUIRE_BACKENDS) but: {reason}")
        pytest.skip(reason)
    return path


def skewed_env(offset: str, library_path: str) -> dict[str, str]:
    """Environment variables for a child whose clock is ``offset`` off (e.g. ``-10m``)."""
    return {"LD_PRELOAD": library_path, "FAKETIME": offset,
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "PYTHONPATH": os.pathsep.join([str(SITE), PYTHONPATH])}
