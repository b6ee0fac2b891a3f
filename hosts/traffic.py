"""A producer for the scenarios: enqueues a steady trickle of ``effect`` tasks from the
harness (the root namespace) into the ledger, in a thread, bounded in count and time; an
enqueue that fails is kept with its error and retried at the next tick."""

from __future__ import annotations

import threading
import time
from typing import Any

from hosts.ledger import Ledger
from taskbasket import Basket


class Trickle:
    """``batch`` tasks every ``every`` seconds, at most ``limit`` tasks or ``seconds``."""

    def __init__(self, basket: Basket, ledger: Ledger, *, batch: int, every: float,
                 limit: int, seconds: float, work: float = 0.05) -> None:
        self.basket, self.ledger = basket, ledger
        self.batch, self.every, self.limit, self.seconds = batch, every, limit, seconds
        self.work = work
        self.failures: list[tuple[float, str]] = []  # (monotonic time, error text)
        self.successes: list[float] = []  # when each batch was acknowledged
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tbh-trickle", daemon=True)

    def start(self) -> Trickle:
        self._thread.start()
        return self

    def _run(self) -> None:
        ends = time.monotonic() + self.seconds
        made = 0
        while not self._stop.is_set() and made < self.limit and time.monotonic() < ends:
            calls: list[tuple[Any, ...]] = [(made + i, self.work) for i in range(self.batch)]
            try:
                self.ledger.enqueue(self.basket, "effect", calls)
                made += self.batch
                self.successes.append(time.monotonic())
            except Exception as exc:  # the store is cut off: kept, retried next tick
                self.failures.append((time.monotonic(), f"{type(exc).__name__}: {exc}"))
                self.ledger.enqueue_errors.append(f"{type(exc).__name__}: {exc}")
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
