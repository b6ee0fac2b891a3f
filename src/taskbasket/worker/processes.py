"""The process executor: sync (or async) handlers in child processes, for CPU-bound work.

Each slot owns one child process, started on first use with the ``spawn`` method (safe
beside threads). A child that runs past its task's timeout is killed with SIGKILL and
replaced; a child that dies mid-task fails that attempt, and its slot starts another.
Handlers must be importable module-level functions: the child imports them by name.

The slot and its child speak a strict request and reply protocol over one pipe: each
request carries the task's id and lease token and each reply repeats them. Anything
unexpected after a request was sent (an error while waiting, a reply that cannot be read,
a reply for another task) kills the child and fails the attempt, so a slot never reads one
task's reply as another's outcome.
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
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from taskbasket.codec import decode_payload
from taskbasket.context import TaskContext, _current
from taskbasket.definition import binding_failure
from taskbasket.errors import ArgumentsError, Fail, Retry, TaskCancelled
from taskbasket.typed import decode_call
from taskbasket.worker.child_progress import ChildProgress, is_progress
from taskbasket.worker.executors import Around, Finished, Started, TimedOut, task_context
from taskbasket.worker.job import Job, JobPhase

_CONTEXT = multiprocessing.get_context("spawn")
POLL_SLICE = 3600.0
"""The longest single wait on a child's pipe: ``Connection.poll`` takes at most 2**31 ms
(24.8 days), so a longer timeout is waited out in slices."""
_KINDS = {"ok": 4, "fail": 4, "retry": 6, "arguments": 4, "error": 6}  # reply kind -> its length


class RemoteError(Exception):
    """A handler raised in a child process; carries the child's traceback text."""

    def __init__(self, type_name: str, message: str, remote_traceback: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.remote_traceback = remote_traceback


class ChildProtocolError(RuntimeError):
    """The child process answered something other than the reply to the task it was
    sent (another task's reply, or one that cannot be read); it was killed and replaced."""


def resolve_handler(module_name: str, qualname: str) -> Any:
    """The function a task names, as the child imports it."""
    if module_name == "__main__" and "__mp_main__" in sys.modules:
        module_name = "__mp_main__"
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return getattr(target, "func", target)  # a TaskDefinition wraps the function


def _text(value: object) -> str:
    """``str(value)``, or a note if that raises: a reply must always be sent."""
    try:
        return str(value)
    except Exception as exc:  # a handler's exception with a broken __str__
        return f"<str() failed: {type(exc).__name__}>"


def _picklable(value: Any) -> Any:
    """The result as the reply carries it: a value the pipe cannot pickle (a lock, an
    open file) is replaced by its type's name, which the parent then refuses to store."""
    import pickle

    try:
        pickle.dumps(value)
    except Exception:
        return _Unpicklable(type(value).__name__)
    return value


class _Unpicklable:
    """What a child sends for a result the pipe cannot carry: JSON cannot hold it either."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<unpicklable {self.type_name}>"


def run_request(request: tuple[Any, ...],
                send: Callable[[tuple[Any, ...]], None] | None = None) -> tuple[Any, ...]:
    """Run one task in this (child) process: the reply to ``request``. With ``send``, the
    handler's progress reports go through it to the parent (``child_progress``).

    A request is ``(task_id, lease_token, module, qualname, payload, context)``; the
    reply starts with the same ``task_id, lease_token``, then the kind (``ok``, ``fail``,
    ``retry``, ``arguments`` or ``error``) and its details.
    """
    task_id, lease_token, module_name, qualname, payload, context = request
    func: Any = None
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    reporter = None if send is None else ChildProgress(task_id, lease_token, send)
    try:
        func = resolve_handler(module_name, qualname)
        context_id, name, queue_name, attempt, max_attempts = context
        args, kwargs, headers = decode_call(func, task_id, name, payload)
        _current.set(TaskContext(context_id, name, queue_name, attempt, max_attempts,
                                 headers, reporter))
        result = func(*args, **kwargs)
        if inspect.isawaitable(result):
            result = asyncio.run(result)  # type: ignore[arg-type]
        return (task_id, lease_token, "ok", _picklable(result))
    except Fail as exc:
        return (task_id, lease_token, "fail", _text(exc.reason))
    except Retry as exc:
        return (task_id, lease_token, "retry", _text(exc.reason), exc.delay, exc.at)
    except BaseException as exc:
        explained = binding_failure(context[1], func, exc, args, kwargs) if (
            func is not None and isinstance(exc, TypeError)) else exc
        if isinstance(explained, ArgumentsError):  # the stored call does not fit: no retry
            return (task_id, lease_token, "arguments", _text(explained))
        return (task_id, lease_token, "error", type(exc).__name__, _text(exc),
                "".join(traceback.format_exception(exc)))
    finally:
        if reporter is not None:
            with contextlib.suppress(Exception):  # a pipe that broke fails the reply too
                reporter.flush()  # the last report goes before the reply


def _child_main(conn: Connection) -> None:
    """A child's loop: run one task per request until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        try:
            conn.send(run_request(request, conn.send))
        except (BrokenPipeError, OSError):
            return


class _Child:
    def __init__(self) -> None:
        self.cancelled = False
        """Killed because its task was cancelled: the slot reads no reply from it again."""
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

    def reply(self, timeout: float) -> tuple[Any, ...] | None:
        """The child's next message, or None if none came within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if not left > 0:  # (a NaN timeout too)
                return None
            if self.conn.poll(min(left, POLL_SLICE)):
                message: tuple[Any, ...] = self.conn.recv()
                return message


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
        self._lock = threading.Lock()
        self._running: dict[Job, _Child] = {}
        """The child each running job was sent to (what ``cancel`` kills)."""
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
                if child is not None and not child.process.is_alive():
                    child.kill()  # died between tasks: reap it and close its pipe
                    child = None
                if child is None:
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

    def cancel(self, job: Job) -> None:
        """Kill the child running ``job``, whose task was cancelled: its slot reads no reply
        and starts a new child for its next task (the worker records nothing of it)."""
        with self._lock:
            child = self._running.get(job)
            if child is None:
                return  # not sent yet (the slot checks the signal) or done already
            child.cancelled = True
        with contextlib.suppress(Exception):
            child.process.kill()

    def _run(self, child: _Child, job: Job) -> tuple[_Child | None, BaseException | None]:
        """``_exchange``, with ``job`` known to ``cancel`` meanwhile: a child killed by a
        cancel is never used again, and the attempt's error is the TaskCancelled."""
        with self._lock:
            self._running[job] = child
        try:
            if job.cancelled:  # cancelled before it was sent: do not run it
                return child, TaskCancelled(job.cancel_signal.reason or "cancelled")
            kept, error = self._exchange(child, job)
        finally:
            with self._lock:
                self._running.pop(job, None)
        if child.cancelled:
            child.kill()
            return None, TaskCancelled(job.cancel_signal.reason or "cancelled")
        return kept, error

    def _exchange(self, child: _Child, job: Job
                  ) -> tuple[_Child | None, BaseException | None]:
        """Send ``job`` to ``child`` and read its outcome: (the child if it may run the
        next task, else None; the attempt's error or None)."""
        func = job.definition.func
        claimed = job.claimed
        request = (claimed.id, claimed.lease_token, func.__module__, func.__qualname__,
                   claimed.payload, _context_tuple(job))
        try:
            child.conn.send(request)
            reply = self._reply(child, job)
        except (EOFError, OSError):
            code = child.process.exitcode
            child.kill()
            return None, RuntimeError(
                f"the child process running the task died (exit code {code})")
        except BaseException as exc:  # the pipe's state is unknown: never reuse the child
            child.kill()
            if not isinstance(exc, Exception):
                raise
            return None, ChildProtocolError(
                f"the reply of the child process running task {claimed.id} could not be "
                f"read ({type(exc).__name__}: {exc}); the child was killed and replaced"
            )
        if reply is None:
            child.kill()
            self.killed_children += 1
            return None, TimedOut()
        error = _mismatch(reply, claimed.id, claimed.lease_token)
        if error is not None:
            child.kill()
            return None, ChildProtocolError(error)
        kind = reply[2]
        if kind == "ok":
            job.value = reply[3]
            return child, None
        if kind == "fail":
            return child, Fail(reply[3])
        if kind == "retry":
            return child, Retry(reply[3], delay=reply[4], at=reply[5])
        if kind == "arguments":
            return child, ArgumentsError(reply[3])
        return child, RemoteError(reply[3], reply[4], reply[5])

    @staticmethod
    def _reply(child: _Child, job: Job) -> tuple[Any, ...] | None:
        """The child's reply to ``job`` within its timeout (None: none came), handing the
        progress reports that come before it to the job's reporter."""
        claimed = job.claimed
        deadline = time.monotonic() + claimed.timeout
        while True:
            reply = child.reply(deadline - time.monotonic())
            if reply is None or not is_progress(reply):
                return reply
            if (reply[0], reply[1]) != (claimed.id, claimed.lease_token):
                return reply  # not this attempt's: refused as its reply, the child replaced
            if job.reporter is not None:
                with contextlib.suppress(ValueError):
                    job.reporter(reply[3], reply[4], reply[5])

    def shutdown(self) -> None:
        for _ in self._slots:
            self._queue.put(None)
        for slot in self._slots:
            slot.join(10)


def _mismatch(reply: Any, task_id: str, lease_token: str) -> str | None:
    """Why ``reply`` is not the reply to the attempt (``task_id``, ``lease_token``), or
    None if it is."""
    kind = reply[2] if isinstance(reply, tuple) and len(reply) >= 3 else None
    if not isinstance(kind, str) or _KINDS.get(kind) != len(reply):
        return (f"the child process running task {task_id} sent {_text(reply)[:200]!r}, "
                "which is no reply of taskbasket's; the child was killed and replaced")
    if reply[0] != task_id or reply[1] != lease_token:
        return (f"the child process running task {task_id} (lease {lease_token}) answered "
                f"for task {reply[0]} (lease {reply[1]}): the reply was refused, and the "
                "child killed and replaced")
    return None


def _context_tuple(job: Job) -> tuple[Any, ...]:
    ctx = task_context(job)
    return (ctx.id, ctx.name, ctx.queue, ctx.attempt, ctx.max_attempts)
