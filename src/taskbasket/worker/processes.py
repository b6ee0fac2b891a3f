"""The process executor: sync (or async) handlers in child processes, for CPU-bound work.

Each slot owns one child process, started on first use with the ``spawn`` method (safe
beside threads). A child that runs past its task's timeout is killed with SIGKILL and
replaced; a child that dies mid-task fails that attempt, and its slot starts another.
Handlers must be importable module-level functions: the child imports them by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import multiprocessing
import queue
import signal
import sys
import threading
import traceback
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from taskbasket.codec import decode_payload
from taskbasket.context import TaskContext, _current
from taskbasket.definition import binding_failure
from taskbasket.errors import ArgumentsError, Fail, Retry
from taskbasket.worker.executors import Around, Finished, Started, TimedOut, task_context
from taskbasket.worker.job import Job, JobPhase

_CONTEXT = multiprocessing.get_context("spawn")


class RemoteError(Exception):
    """A handler raised in a child process; carries the child's traceback text."""

    def __init__(self, type_name: str, message: str, remote_traceback: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.remote_traceback = remote_traceback


def resolve_handler(module_name: str, qualname: str) -> Any:
    """The function a task names, as the child imports it."""
    if module_name == "__main__" and "__mp_main__" in sys.modules:
        module_name = "__mp_main__"
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return getattr(target, "func", target)  # a TaskDefinition wraps the function


def _child_main(conn: Connection) -> None:
    """A child's loop: run one task per message until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        module_name, qualname, task_id, payload, context = message
        func: Any = None
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        try:
            func = resolve_handler(module_name, qualname)
            args, kwargs, headers = decode_payload(task_id, payload)
            task_id_, name, queue, attempt, max_attempts = context
            _current.set(TaskContext(task_id_, name, queue, attempt, max_attempts, headers))
            result = func(*args, **kwargs)
            if inspect.isawaitable(result):
                asyncio.run(result)  # type: ignore[arg-type]
            reply: tuple[Any, ...] = ("ok",)
        except Fail as exc:
            reply = ("fail", exc.reason)
        except Retry as exc:
            reply = ("retry", exc.reason, exc.delay, exc.at)
        except BaseException as exc:
            explained = binding_failure(context[1], func, exc, args, kwargs) if (
                func is not None and isinstance(exc, TypeError)) else exc
            if isinstance(explained, ArgumentsError):
                reply = ("arguments", str(explained))
            else:
                reply = ("error", type(exc).__name__, str(exc), "".join(
                    traceback.format_exception(exc)))
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return


class _Child:
    def __init__(self) -> None:
        self.conn, child_conn = _CONTEXT.Pipe()
        self.process: BaseProcess = _CONTEXT.Process(
            target=_child_main, args=(child_conn,), name="taskbasket-process", daemon=True
        )
        self.process.start()
        child_conn.close()

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
            self.process.join(5)
        self.conn.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.send(None)
            self.process.join(5)
        if self.process.is_alive():
            self.kill()
        self.conn.close()


class ProcessExecutor:
    """``size`` slots, each a thread in this process driving one child process."""

    def __init__(
        self, size: int, on_finished: Finished, on_started: Started, around: Around
    ) -> None:
        self._on_finished = on_finished
        self._on_started = on_started
        self._around = around
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self.killed_children = 0
        self._slots = [
            threading.Thread(target=self._slot_main, name=f"taskbasket-process-slot-{i}",
                             daemon=True)
            for i in range(size)
        ]
        for slot in self._slots:
            slot.start()

    def submit(self, job: Job) -> None:
        self._queue.put(job)

    def _slot_main(self) -> None:
        child: _Child | None = None
        try:
            while True:
                job = self._queue.get()
                if job is None:
                    return
                if not job.move(JobPhase.PENDING, JobPhase.RUNNING):
                    continue
                if child is None or not child.process.is_alive():
                    child = _Child()
                self._on_started(job)
                error: BaseException | None = None
                try:
                    _, _, headers = decode_payload(job.claimed.id, job.claimed.payload)
                    with self._around(task_context(job, headers)):
                        child, error = self._run(child, job)
                        if error is not None:
                            raise error
                except BaseException as exc:
                    error = exc
                self._on_finished(job, error)
                del job, error  # an idle slot holds nothing of the attempt it ran
        finally:
            if child is not None:
                child.close()

    def _run(self, child: _Child, job: Job) -> tuple[_Child | None, BaseException | None]:
        func = job.definition.func
        claimed = job.claimed
        message = (func.__module__, func.__qualname__, claimed.id, claimed.payload,
                   _context_tuple(job))
        try:
            child.conn.send(message)
            if not child.conn.poll(claimed.timeout):
                child.kill()
                self.killed_children += 1
                return None, TimedOut()
            reply = child.conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            code = child.process.exitcode
            child.kill()
            return None, RuntimeError(
                f"the child process running the task died (exit code {code})")
        kind = reply[0]
        if kind == "ok":
            return child, None
        if kind == "fail":
            return child, Fail(reply[1])
        if kind == "retry":
            return child, Retry(reply[1], delay=reply[2], at=reply[3])
        if kind == "arguments":
            return child, ArgumentsError(reply[1])
        return child, RemoteError(reply[1], reply[2], reply[3])

    def shutdown(self) -> None:
        for _ in self._slots:
            self._queue.put(None)
        for slot in self._slots:
            slot.join(10)


def _context_tuple(job: Job) -> tuple[Any, ...]:
    ctx = task_context(job)
    return (ctx.id, ctx.name, ctx.queue, ctx.attempt, ctx.max_attempts)
