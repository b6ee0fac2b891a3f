"""The systems `make compare` runs, their stores and their worker command lines.

This module is data only (no peer is imported here), so the harness can plan a run from
any interpreter. Each system's code is ``benchmarks/compare/systems/<name>_app.py``:
its tasks (the shared jobs of benchmarks/compare/jobs.py), ``version()``, ``setup()``
and ``producer()`` (see benchmarks/compare/runner.py). Each worker gets 16 slots (threads
or asyncio tasks) in one process, the settings its documentation gives for throughput
and latency, and no result storage where results are optional.
"""

from __future__ import annotations

from dataclasses import dataclass

SLOTS = 16  # handler slots of the one worker process, for every system
APPS = "benchmarks.compare.systems"


@dataclass(frozen=True)
class System:
    """A queue system under test: where it runs and how its worker is launched."""

    name: str
    distribution: str  # the PyPI name, for the version in the report
    stores: tuple[str, ...]
    handlers: tuple[str, ...]  # "sync" and/or "async": the handler kinds measured
    worker: tuple[str, ...]  # argv; {python} and {bin} are the interpreter and its folder
    settings: str  # what the report and docs/performance.md say of the settings
    peer: bool = True

    def worker_argv(self, python: str) -> list[str]:
        folder = python.rsplit("/", 1)[0]
        return [part.format(python=python, bin=folder) for part in self.worker]


SYSTEMS: tuple[System, ...] = (
    System(
        "taskbasket", "taskbasket", ("postgres", "redis", "sqlite"), ("sync", "async"),
        ("{python}", "-m", "taskbasket", "worker", f"{APPS}.taskbasket_app:basket",
         "--concurrency", str(SLOTS), "--log-level", "warning"),
        f"`taskbasket worker --concurrency {SLOTS}`; sync handlers on the thread pool, "
        "async handlers on the worker's event loop",
        peer=False,
    ),
    System(
        "pgqueuer", "pgqueuer", ("postgres",), ("async",),
        ("{python}", "-m", f"{APPS}.pgqueuer_app"),
        "asyncpg driver, `pgqueuer.run(main, batch_size=100)` on "
        "uvloop, as `pgq run --batch-size 100` (LISTEN/NOTIFY wake-ups)",
    ),
    System(
        "procrastinate", "procrastinate", ("postgres",), ("async",),
        ("{bin}/procrastinate", "--log-level", "warning", f"--app={APPS}.procrastinate_app.app",
         "worker", "--concurrency", str(SLOTS)),
        f"psycopg 3 pool, `procrastinate --log-level warning worker --concurrency {SLOTS}` "
        "(LISTEN/NOTIFY)",
    ),
    System(
        "saq", "saq", ("postgres", "redis"), ("async",),
        ("{bin}/saq", f"{APPS}.saq_app.settings", "--workers", "1", "--quiet"),
        f"`saq --workers 1`, concurrency {SLOTS}, dequeue_timeout 1 s (blocking dequeue)",
    ),
    System(
        "huey", "huey", ("redis", "sqlite"), ("sync",),
        ("{bin}/huey_consumer", f"{APPS}.huey_app.huey", "-k", "thread", "-w", str(SLOTS),
         "-d", "0.01", "-m", "0.1", "-b", "1.15", "-n", "-C", "-q"),
        f"`huey_consumer -k thread -w {SLOTS} -d 0.01 -m 0.1 -n -C`; RedisHuey blocking "
        "pops, SqliteHuey polling from 10 ms to 100 ms; results off",
    ),
    System(
        "dramatiq", "dramatiq", ("redis",), ("sync",),
        ("{bin}/dramatiq", f"{APPS}.dramatiq_app", "--processes", "1", "--threads",
         str(SLOTS)),
        f"`dramatiq --processes 1 --threads {SLOTS}`, RedisBroker",
    ),
    System(
        "rq", "rq", ("redis",), ("sync",),
        ("{bin}/rq", "worker", "--worker-class", "rq.worker.SimpleWorker",
         "--disable-job-desc-logging", "--logging_level", "WARNING",
         "--results-ttl", "0", "-c", f"{APPS}.rq_app", "compare"),
        "`rq worker --worker-class rq.worker.SimpleWorker` (no fork per job; one job at "
        "a time: rq has no slots within a process), results-ttl 0",
    ),
    System(
        "celery", "celery", ("redis",), ("sync",),
        ("{bin}/celery", "-A", f"{APPS}.celery_app", "worker", "-P", "threads",
         "-c", str(SLOTS), "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-l", "WARNING", "-Q", "compare"),
        f"`celery worker -P threads -c {SLOTS} --without-gossip --without-mingle "
        "--without-heartbeat`, prefetch multiplier 4, ignore_result",
    ),
    System(
        "arq", "arq", ("redis",), ("async",),
        ("{python}", "-m", f"{APPS}.arq_app"),
        f"`run_worker` (what `arq` runs) with max_jobs {SLOTS}, poll_delay 10 ms, "
        "keep_result 0, logging at WARNING",
    ),
)


def system(name: str) -> System:
    """The system called ``name``; a ValueError lists the known ones."""
    for candidate in SYSTEMS:
        if candidate.name == name:
            return candidate
    known = ", ".join(s.name for s in SYSTEMS)
    raise ValueError(f"unknown system {name!r}: choose among {known}")
