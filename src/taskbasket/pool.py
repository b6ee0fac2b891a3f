"""An auto-scaling pool of threads: the dispatcher of seed 004, usable on its own.

``submit`` never blocks: it buffers up to ``buffer`` callables (even before ``run``) and
returns False when the buffer is full. The pool grows from ``min_workers`` towards
``max_workers`` while work waits and every thread is busy, and a thread idle for
``idle_timeout`` seconds retires while more than ``min_workers`` remain. ``stop(drain=True)``
finishes everything buffered; ``stop(drain=False)`` finishes only what is running and
returns the callables that never started.
"""

from __future__ import annotations

import collections
import enum
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from taskbasket.errors import ConfigurationError

log = logging.getLogger("taskbasket.pool")

Work = Callable[[], Any]


class PoolStatus(enum.StrEnum):
    STOPPED = "stopped"
    RUNNING = "running"
    STOPPING = "stopping"
    """Threads finish their current callable and exit; the buffer is not run."""
    DRAINING = "draining"
    """Threads run everything buffered, then exit."""


class Pool:
    """Runs submitted callables on between ``min_workers`` and ``max_workers`` threads."""

    def __init__(
        self,
        min_workers: int = 1,
        max_workers: int = 8,
        buffer: int = 100,
        *,
        idle_timeout: float = 60.0,
        name: str = "taskbasket-pool",
    ) -> None:
        if min_workers < 0 or max_workers < 1 or min_workers > max_workers:
            raise ConfigurationError(
                f"need 0 <= min_workers <= max_workers and max_workers >= 1; got "
                f"min_workers={min_workers}, max_workers={max_workers}"
            )
        if buffer < 1:
            raise ConfigurationError(f"buffer must be >= 1, got {buffer}")
        if not idle_timeout > 0:
            raise ConfigurationError(f"idle_timeout must be > 0 seconds, got {idle_timeout}")
        self.min_workers = min_workers
        self.max_workers = max_workers
        self.buffer = buffer
        self.idle_timeout = idle_timeout
        self.name = name
        self._cond = threading.Condition()
        self._queue: collections.deque[Work] = collections.deque()
        self._threads: set[threading.Thread] = set()
        self._abandoned: set[threading.Thread] = set()
        self._idle = 0
        self._busy = 0
        self._serial = 0
        self._status = PoolStatus.STOPPED
        self._stop_lock = threading.Lock()
        self.abandoned_threads = 0
        self.completed = 0

    # ------------------------------------------------------------------ state

    @property
    def status(self) -> PoolStatus:
        with self._cond:
            return self._status

    @property
    def size(self) -> int:
        """Threads serving the pool now (abandoned ones not counted)."""
        with self._cond:
            return len(self._threads)

    @property
    def busy(self) -> int:
        with self._cond:
            return self._busy

    @property
    def queued(self) -> int:
        with self._cond:
            return len(self._queue)

    def __repr__(self) -> str:
        return (f"<Pool {self.status.value} size={self.size} busy={self.busy} "
                f"queued={self.queued} max={self.max_workers}>")

    # ------------------------------------------------------------------ control

    def run(self) -> None:
        """Start the minimum of threads and take work; calling it again does nothing."""
        with self._cond:
            if self._status is not PoolStatus.STOPPED:
                return
            self._status = PoolStatus.RUNNING
            while len(self._threads) < self.min_workers:
                self._spawn()
            self._grow()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        """Buffer ``fn(*args, **kwargs)``; False (never blocking) if the buffer is full
        or the pool is stopping."""
        work: Work = (lambda: fn(*args, **kwargs)) if args or kwargs else fn
        with self._cond:
            if self._status in (PoolStatus.STOPPING, PoolStatus.DRAINING):
                return False
            if len(self._queue) >= self.buffer:
                return False
            self._queue.append(work)
            if self._status is PoolStatus.RUNNING:
                self._grow()
                self._cond.notify()
            return True

    def stop(self, drain: bool = True, timeout: float | None = None) -> list[Work]:
        """Stop the pool and wait for its threads; returns callables that never ran.

        Safe to call more than once and from several threads: later calls wait for the
        first one. ``timeout`` bounds the wait; threads still busy after it are left to
        finish on their own.
        """
        with self._stop_lock, self._cond:
            if self._status is PoolStatus.STOPPED and not self._threads:
                if drain and self._queue:
                    self._status = PoolStatus.RUNNING  # drain what was buffered
                    self._grow()
                else:
                    left = list(self._queue)
                    self._queue.clear()
                    return left
            self._status = PoolStatus.DRAINING if drain else PoolStatus.STOPPING
            left = [] if drain else list(self._queue)
            if not drain:
                self._queue.clear()
            elif self._queue and not self._threads:
                self._spawn()
            self._cond.notify_all()
            deadline = None if timeout is None else time.monotonic() + timeout
            while self._threads:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._cond.wait(remaining if remaining is not None else 0.5)
            self._status = PoolStatus.STOPPED
            self._cond.notify_all()
            return left

    def abandon(self, thread: threading.Thread) -> None:
        """Stop counting ``thread`` (its callable overran); a new thread takes its place.

        Python cannot stop a thread: it runs on, and exits when its callable returns.
        """
        with self._cond:
            if thread not in self._threads:
                return
            self._threads.discard(thread)
            self._abandoned.add(thread)
            self._busy -= 1
            self.abandoned_threads += 1
            serving = self._status in (PoolStatus.RUNNING, PoolStatus.DRAINING)
            if serving and (len(self._threads) < self.min_workers or self._queue):
                self._spawn()
            self._cond.notify_all()

    # ------------------------------------------------------------------ threads

    def _grow(self) -> None:
        """Add threads while work waits and none is idle (caller holds the lock)."""
        waiting = len(self._queue)
        while waiting > self._idle and len(self._threads) < self.max_workers:
            self._spawn()
            waiting -= 1

    def _spawn(self) -> None:
        self._serial += 1
        thread = threading.Thread(target=self._main, name=f"{self.name}-{self._serial}",
                                  daemon=True)
        self._threads.add(thread)
        self._idle += 1  # counted idle until it takes work
        thread.start()

    def _main(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                work = self._next(me)
                if work is None:
                    self._idle -= 1
                    self._threads.discard(me)
                    self._cond.notify_all()
                    return
                self._idle -= 1
                self._busy += 1
            try:
                work()
            except BaseException:  # a callable's failure must not kill the pool
                log.exception("a callable submitted to %s raised", self.name)
            del work  # an idle thread holds nothing of the callable it ran (nor its args)
            with self._cond:
                if me in self._abandoned:
                    self._abandoned.discard(me)
                    self._cond.notify_all()
                    return
                self._busy -= 1
                self._idle += 1
                self.completed += 1
                self._cond.notify_all()

    def _next(self, me: threading.Thread) -> Work | None:
        """The next callable for this thread, or None when it should exit (lock held)."""
        idle_since = time.monotonic()
        while True:
            if self._status is PoolStatus.STOPPING:
                return None
            if self._queue and self._status is not PoolStatus.STOPPED:
                return self._queue.popleft()
            if self._status is PoolStatus.DRAINING:
                return None
            waited = time.monotonic() - idle_since
            if waited >= self.idle_timeout and len(self._threads) > self.min_workers:
                return None  # scale down
            self._cond.wait(max(0.001, self.idle_timeout - waited))
