"""The runtime a worker and a relay share: an outage is logged once per loop, not at every
retry."""

from __future__ import annotations

import logging
import threading

import pytest

from taskbasket.runtime import Outage, store_backoff


def test_an_outage_is_logged_once_per_loop_and_its_end_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stopping = threading.Event()
    stopping.set()  # the backoff returns at once: the test steps the loops itself
    waits: list[int] = []

    def backoff(failures: int) -> float:
        waits.append(failures)
        return 0.0

    outage = Outage(logging.getLogger("tests.outage"), stopping, backoff)
    down = ConnectionError("connection refused")
    with caplog.at_level(logging.WARNING, logger="tests.outage"):
        claim = heartbeat = 0
        for _ in range(3):
            claim = outage.failed(claim, "claim", down)
            heartbeat = outage.failed(heartbeat, "heartbeat", down)
        assert (claim, heartbeat) == (3, 3) and waits == [1, 1, 2, 2, 3, 3]
        claim = outage.failed(claim, "claim", TimeoutError("timed out"))  # a new error
        claim = outage.recovered(claim, "claim")
        heartbeat = outage.recovered(heartbeat, "heartbeat")
        assert outage.recovered(0, "claim") == 0  # no failure: nothing to say
    assert (claim, heartbeat) == (0, 0)
    assert [r.getMessage() for r in caplog.records] == [
        "claim failed, retrying with backoff: ConnectionError: connection refused",
        "heartbeat failed, retrying with backoff: ConnectionError: connection refused",
        "claim failed, retrying with backoff: TimeoutError: timed out",
        "claim works again after 4 failed tries",
        "heartbeat works again after 3 failed tries",
    ]


def test_the_store_backoff_doubles_up_to_five_seconds() -> None:
    assert [store_backoff(n) for n in (1, 2, 3, 7, 8, 50)] == [0.1, 0.2, 0.4, 5.0, 5.0, 5.0]
