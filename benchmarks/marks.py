"""How a benchmark worker says how far it got, and how the benchmark reads its cost.

A handler in the worker calls ``PROGRESS.tick()`` (or ``PROGRESS.reached(n)`` when the
job itself counts, as a Redis ``INCR`` does). When the count reaches a tenth of
``$BENCH_TARGET`` and then ``$BENCH_TARGET``, it writes ``first`` and ``last`` files into
``$BENCH_MARKS`` holding the wall-clock time. The benchmark waits on those files, so
it never polls the store it measures, and samples the processes' CPU (``/proc``) when
each appears: the window from ``first`` to ``last`` is the steady state, start-up left
out. Only the standard library is used: peers' venvs import this module too.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # /proc/<pid>/stat counts CPU in these


class Progress:
    """Counts finished handler calls in this process and writes the two marks."""

    def __init__(self) -> None:
        self.count = itertools.count(1)  # next() is atomic under the GIL
        folder = os.environ.get("BENCH_MARKS", "")
        self.folder = Path(folder) if folder else None
        target = int(os.environ.get("BENCH_TARGET", "0") or 0)
        self.target = target
        self.first = max(1, target // 10)

    def tick(self) -> None:
        """One more handler call done here."""
        self.reached(next(self.count))

    def reached(self, value: int) -> None:
        """The job's own count is ``value`` (each value is reported once)."""
        if self.folder is None or self.target <= 0:
            return
        if value == self.first:
            write_mark(self.folder, "first")
        if value == self.target:
            write_mark(self.folder, "last")


def write_mark(folder: Path, name: str) -> None:
    """Write the time now into ``folder/name``, atomically (rename)."""
    scratch = folder / f".{name}.{os.getpid()}"
    scratch.write_text(repr(time.time()))
    scratch.rename(folder / name)


def read_mark(folder: Path, name: str) -> float | None:
    """The time written into mark ``name``, or None while it is not there."""
    try:
        return float((folder / name).read_text())
    except FileNotFoundError:
        return None


def wait_mark(folder: Path, name: str, deadline: float, alive: object = None) -> float:
    """Wait for mark ``name`` until ``deadline`` (time.monotonic()); its time.

    ``alive``, when given, is a ``subprocess.Popen`` whose early exit ends the wait with
    an error (a worker that crashed never writes the mark).
    """
    while True:
        found = read_mark(folder, name)
        if found is not None:
            return found
        code = alive.poll() if alive is not None else None  # type: ignore[attr-defined]
        if code is not None:
            raise RuntimeError(f"the worker exited with code {code} before mark {name!r}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"mark {name!r} not written in time: the drain is stuck")
        time.sleep(0.002)


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (a supervisor's worker children included)."""
    found = [pid]
    index = 0
    while index < len(found):
        current = found[index]
        index += 1
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                children = Path(f"/proc/{current}/task/{task}/children").read_text().split()
                found.extend(int(c) for c in children if int(c) not in found)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU of ``pids`` (all their threads), from /proc/<pid>/stat."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLOCK_TICKS


def rss_bytes(pids: list[int]) -> int:
    """Resident memory of ``pids``, from /proc/<pid>/status."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def pids_named(command: str) -> list[int]:
    """Every process whose command name (/proc/<pid>/comm) is ``command``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == command:
                    found.append(int(entry))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return found


def load_average() -> tuple[float, float, float]:
    """The machine's 1, 5 and 15 minute load averages."""
    return os.getloadavg()


PROGRESS = Progress()
