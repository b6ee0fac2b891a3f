"""Module-level handlers for the process executor, which imports them in child processes."""

from __future__ import annotations

import os
import time

from taskbasket import Basket, Fail

basket = Basket(os.environ.get("TASKBASKET_URL"))


def burn(n: int) -> int:
    """Pure-Python CPU work: about n million loop steps."""
    total = 0
    for i in range(n * 1_000_000):
        total += i & 7
    return total


@basket.task(executor="process", timeout=120)
def crunch(n: int) -> None:
    burn(n)


@basket.task(executor="process", timeout=0.5, max_attempts=1)
def hang() -> None:
    time.sleep(60)


@basket.task(executor="process", timeout=120)
def gate(path: str) -> None:
    """Makes ``<path>.started``, then runs until the file ``path`` exists: a task that
    says it began and ends when the test lets it."""
    with open(f"{path}.started", "w"):
        pass
    while not os.path.exists(path):
        time.sleep(0.01)


@basket.task(executor="process", timeout=120)
def linger(path: str) -> None:
    """Writes this child's pid to ``path`` once it runs, then sleeps (a minute at most):
    a task that only a kill stops (tests/conformance/test_cancel_running.py)."""
    with open(f"{path}.tmp", "w") as out:
        out.write(str(os.getpid()))
    os.replace(f"{path}.tmp", path)
    time.sleep(60)


@basket.task(executor="process", max_attempts=3)
def refuse() -> None:
    raise Fail("not worth retrying")


@basket.task(executor="process", max_attempts=1)
def explode() -> None:
    raise KeyError("missing in the child")


@basket.task(executor="process")
def whoami(marker: str) -> None:
    from taskbasket import current_task

    ctx = current_task()
    assert ctx is not None and ctx.attempt == 1
    path = os.environ.get("TB_MARKER_DIR", "/tmp")
    with open(os.path.join(path, marker), "w") as out:
        out.write(str(os.getpid()))


@basket.task(executor="process", max_attempts=5)
def greet(name: str, *, loud: bool = False) -> None:
    """Needs a name: a call without one cannot bind (tests/conformance/test_arguments.py)."""


@basket.task(executor="process")
def wait_for_file(path: str) -> None:
    """Wait (at most 30 s) until ``path`` exists: a gate that a test opens from outside."""
    deadline = time.monotonic() + 30
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)


@basket.task(executor="process")
def answer(n: int) -> dict[str, int]:
    """A result carried back from the child (#19), and its progress over the pipe: many
    reports in a tight loop, the last one kept."""
    from taskbasket import current_task

    ctx = current_task()
    assert ctx is not None
    for i in range(1, 2001):
        ctx.progress(i, 2000, note="halfway" if i < 2000 else "done")
    return {"answer": n * 2}


@basket.task(executor="process", max_attempts=2)
def unpicklable() -> object:
    import threading

    return threading.Lock()
