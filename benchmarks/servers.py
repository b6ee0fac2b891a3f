"""CPU spent by a store's server processes, from their own accounting (/proc/<pid>/stat).

PostgreSQL runs a process per connection: with a database name, only the backends
serving that database are summed (``pg_stat_activity``), so other users of the shared
server are left out; without one, every ``postgres`` process. MariaDB and Redis are one
process each (all threads summed), shared with whoever else uses them: their figures
hold the whole server's work during the window, which is why the reports give the
machine's load beside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmarks.marks import CLOCK_TICKS, pids_named

COMMANDS = {"postgres": "postgres", "mysql": "mariadbd", "redis": "redis-server"}


def _ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(fields[11]) + int(fields[12])


@dataclass
class ServerCpu:
    """Samples of a store's server CPU; ``seconds_since_first()`` is the work between."""

    store: str
    admin_url: str | None = None  # PostgreSQL: where pg_stat_activity is read
    database: str | None = None  # PostgreSQL: only the backends of this database
    only: tuple[int, ...] = ()  # these server processes alone (a server of the run's own)
    first: dict[int, int] = field(default_factory=dict)

    def pids(self) -> list[int]:
        if self.only:
            return list(self.only)
        if self.store == "postgres" and self.admin_url and self.database:
            import psycopg

            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                                    (self.database,)).fetchall()
            return [int(row[0]) for row in rows]
        command = COMMANDS.get(self.store)
        if command is None:
            return []  # SQLite: no server, the work is in the worker
        if command == "mariadbd" and not pids_named(command):
            return pids_named("mysqld")
        return pids_named(command)

    def sample(self) -> dict[int, int]:
        return {pid: t for pid in self.pids() if (t := _ticks(pid)) is not None}

    def start(self) -> None:
        self.first = self.sample()

    def seconds_since_first(self) -> float | None:
        """CPU seconds the server spent since ``start()``; None for a store without one.

        A backend that appeared since counts whole; one that exited since is lost (the
        worker's connections live through the window)."""
        if self.store not in COMMANDS:
            return None
        now = self.sample()
        return sum(t - self.first.get(pid, 0) for pid, t in now.items()) / CLOCK_TICKS
