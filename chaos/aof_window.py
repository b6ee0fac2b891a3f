"""``python -m chaos.aof_window [--seconds 15] [--fsync everysec,always]``: how long a
write that Redis acknowledged can sit in the page cache before it is on disk.

A SIGKILLed Redis loses nothing that it wrote to its append-only file (the kernel keeps
the page cache), which is what the chaos run's crash shows for both policies. A power
cut or kernel crash also loses what was written but not yet ``fdatasync``-ed: with
``appendfsync always`` the fsync comes before the reply, so nothing acknowledged; with
``everysec`` up to about a second (two when the disk is slow). This measures that window
on this machine: a private Redis per policy, a producer and a worker running tasks
against it, and ``strace`` timing every AOF ``write`` and ``fdatasync`` of the server.
Prints a table and writes chaos/results/aof_window.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers.load import RunningWork  # noqa: E402
from tests.servers.redis import PrivateRedis  # noqa: E402

_CALL = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(write|fdatasync|fsync)\((\d+)")
_RESUMED = re.compile(r"^(\d+)\s+\d+\.\d+\s+<\.\.\. (write|fdatasync|fsync) resumed>")
_DURATION = re.compile(r"<(\d+\.\d+)>$")


def _calls(trace: str) -> list[tuple[str, int, float, float]]:
    """(syscall, fd, start, end) of each complete call in an ``strace -f -ttt -T`` log,
    calls that another thread interrupted (``<unfinished ...>``) included."""
    calls = []
    open_calls: dict[tuple[str, str], tuple[int, float]] = {}
    for line in trace.splitlines():
        if (resumed := _RESUMED.match(line)) is not None:
            key = (resumed.group(1), resumed.group(2))
            duration = _DURATION.search(line)
            if key in open_calls and duration is not None:
                fd, start = open_calls.pop(key)
                calls.append((key[1], fd, start, start + float(duration.group(1))))
            continue
        if (call := _CALL.match(line)) is None:
            continue
        name, fd, start = call.group(3), int(call.group(4)), float(call.group(2))
        if line.endswith("<unfinished ...>"):
            open_calls[(call.group(1), name)] = (fd, start)
        elif (duration := _DURATION.search(line)) is not None:
            calls.append((name, fd, start, start + float(duration.group(1))))
    return sorted(calls, key=lambda c: c[2])


@dataclass
class Window:
    appendfsync: str
    seconds: float
    tasks_done: int
    aof_writes: int
    fsyncs: int
    window_max_ms: float
    window_p50_ms: float
    window_p99_ms: float
    most_unsynced_writes: int
    """The most AOF writes waiting for one fsync: what a power cut at that moment loses."""
    tasks_per_second: float


def _aof_fd(pid: int) -> int:
    for fd in os.listdir(f"/proc/{pid}/fd"):
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
        if "appendonlydir" in target and target.endswith(".incr.aof"):
            return int(fd)
    raise RuntimeError("the Redis server has no append-only file open")


def measure(appendfsync: str, seconds: float, folder: Path) -> Window:
    server = PrivateRedis(folder / appendfsync, appendfsync=appendfsync)
    server.start()
    trace = folder / f"{appendfsync}.trace"
    try:
        assert server.process is not None
        pid = server.process.pid
        work = RunningWork(server.store_url(f"window_{appendfsync}"), total=10**9, batch=20,
                           pause=0.01, concurrency=8)
        work.start()
        work.wait_done(200)
        fd = _aof_fd(pid)
        tracer = subprocess.Popen(
            ["strace", "-f", "-ttt", "-T", "-e", "trace=write,fdatasync,fsync", "-o",
             str(trace), "-p", str(pid)], stderr=subprocess.DEVNULL)
        done_before = work.done_count()
        time.sleep(seconds)  # the measurement runs for this long; nothing waits on it
        tracer.terminate()
        tracer.wait(30)
        tasks_done = work.done_count() - done_before
        work.stop()
    finally:
        server.close()
    writes: list[float] = []
    syncs: list[tuple[float, float]] = []
    for name, call_fd, start, end in _calls(trace.read_text()):
        if call_fd != fd:
            continue
        if name == "write":
            writes.append(start)
        else:
            syncs.append((start, end))
    windows: list[float] = []
    most = 0
    pending: list[float] = []
    for sync_start, sync_end in syncs:
        while writes and writes[0] <= sync_start:
            pending.append(writes.pop(0))
        most = max(most, len(pending))
        windows.extend(sync_end - written for written in pending)
        pending = []
    windows.sort()
    def ms(value: float) -> float:
        return round(value * 1000, 1)
    return Window(
        appendfsync, seconds, tasks_done, len(windows) + len(writes), len(syncs),
        ms(windows[-1]) if windows else 0.0,
        ms(statistics.median(windows)) if windows else 0.0,
        ms(windows[int(len(windows) * 0.99) - 1]) if windows else 0.0,
        most, round(tasks_done / seconds, 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--fsync", default="everysec,always")
    args = parser.parse_args()
    if shutil.which("strace") is None or shutil.which("redis-server") is None:
        print("needs strace and redis-server (apt-get install strace redis-server)")
        return 2
    folder = Path(tempfile.mkdtemp(prefix="tb-aof-window-"))
    try:
        results = [measure(policy.strip(), args.seconds, folder)
                   for policy in args.fsync.split(",")]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Redis AOF: write to fdatasync (strace attached)", header_style="bold")
    columns = ("appendfsync", "tasks/s", "AOF writes", "fsyncs", "window max ms",
               "p50 ms", "p99 ms", "most unsynced writes")
    for column in columns:
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(r.appendfsync, str(r.tasks_per_second), str(r.aof_writes), str(r.fsyncs),
                      str(r.window_max_ms), str(r.window_p50_ms), str(r.window_p99_ms),
                      str(r.most_unsynced_writes))
    Console(width=120).print(table)
    out = ROOT / "chaos" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "aof_window.json").write_text(json.dumps(
        {"when": datetime.now(UTC).isoformat(), "results": [asdict(r) for r in results]},
        indent=2))
    print(f"wrote {out / 'aof_window.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
