"""Work that keeps running while a test restarts its private server: a worker in this
process, and a producer thread that keeps enqueueing and keeps the ids each enqueue
acknowledged (the ledger), so the test can check every one of them afterwards."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from taskbasket import Basket, current_task
from tests.helpers import wait_for


class RunningWork:
    """``total`` tasks enqueued in batches of ``batch`` (one every ``pause`` seconds) while
    a worker of ``concurrency`` runs them; ``done`` counts each task's completed runs."""

    def __init__(self, url: str, *, total: int = 400, batch: int = 20, pause: float = 0.05,
                 concurrency: int = 4, visibility_timeout: float = 3.0) -> None:
        self.basket = Basket(url)
        self.total, self.batch, self.pause = total, batch, pause
        self.ledger: list[str] = []
        self.done: Counter[str] = Counter()
        self.enqueue_errors: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

        @self.basket.task(max_attempts=1000, backoff=0.1)
        def work(n: int) -> None:
            ctx = current_task()
            assert ctx is not None
            time.sleep(0.002)
            with self._lock:
                self.done[ctx.id] += 1

        self.work = work
        self.worker = self.basket.worker(concurrency=concurrency, poll_interval=0.05,
                                         visibility_timeout=visibility_timeout)
        self._producer = threading.Thread(target=self._produce, daemon=True,
                                          name="test-producer")

    def start(self) -> None:
        self.basket.migrate()
        self.worker.start()
        self._producer.start()

    def _produce(self) -> None:
        n = 0
        while n < self.total and not self._stopping.is_set():
            try:
                refs = self.work.enqueue_many([(i,) for i in range(n, n + self.batch)])
            except Exception as exc:  # the server is down: try again, as an app would
                self.enqueue_errors.append(f"{type(exc).__name__}: {exc}")
                self._stopping.wait(0.2)
                continue
            with self._lock:
                self.ledger.extend(ref.id for ref in refs)
            n += self.batch
            self._stopping.wait(self.pause)

    def done_count(self) -> int:
        with self._lock:
            return len(self.done)

    def wait_done(self, count: int, timeout: float = 60.0) -> None:
        wait_for(lambda: self.done_count() >= count, timeout, f"{count} tasks to run")

    def wait_all(self, timeout: float = 120.0) -> None:
        """Until the producer is through and every acknowledged id ran to its end."""
        def through() -> bool:
            if self._producer.is_alive():
                return False
            with self._lock:
                return all(task_id in self.done for task_id in self.ledger)

        wait_for(through, timeout, f"all {self.total} acknowledged tasks to run", 0.1)

    def missing(self) -> list[str]:
        with self._lock:
            return [task_id for task_id in self.ledger if task_id not in self.done]

    def stop(self) -> None:
        self._stopping.set()
        self._producer.join(30)
        self.worker.stop()
        self.basket.close()

    def __enter__(self) -> RunningWork:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
