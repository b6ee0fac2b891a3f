"""The run's private store servers, each inside the store host's namespace and listening
only on that host's address: a PostgreSQL cluster (``initdb``/``pg_ctl``), a Redis and a
MariaDB, each with its data in a folder of the run's own. The machine's shared servers on
127.0.0.1 are never touched (they are not even reachable from the namespace).

``cpu_seconds`` is the server's own accounting: user + system time of every process in
the store's namespace (``/proc/PID/stat``), plus what its exited children used.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from hosts.net import Host, run

TICKS = os.sysconf("SC_CLK_TCK")
STORES = ("postgres", "redis", "mysql")


def _pg_tool(name: str) -> str | None:
    for folder in ("/usr/local/bin", *sorted(Path("/usr/lib/postgresql").glob("*/bin"))):
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    return shutil.which(name)


def missing(store: str) -> str | None:
    """What the machine lacks for a private ``store`` server, or None."""
    tools = {"postgres": ["initdb", "pg_ctl"], "redis": ["redis-server"],
             "mysql": ["mariadbd", "mariadb-install-db"]}[store]
    for tool in tools:
        found = _pg_tool(tool) if store == "postgres" else shutil.which(tool)
        if found is None:
            return f"a private {store} server needs {tool}, which is not installed"
    return None


def process_cpu(pid: int, children: bool = False) -> float:
    """User + system CPU seconds of ``pid`` (and of its reaped children if asked)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / TICKS


def accepts(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


class StoreServer:
    """One server process in ``host``'s namespace, on ``host.address:port``."""

    store = ""
    port = 0

    def __init__(self, host: Host, folder: Path) -> None:
        self.host = host
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return self.host.address

    def start(self) -> None:
        with open(self.folder / "server.log", "ab") as log:
            self.process = subprocess.Popen(self.host.command(*self.command()), stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while not accepts(self.address, self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the private {self.store} did not start: "
                                   f"{(self.folder / 'server.log').read_text()[-2000:]}")
            time.sleep(0.1)
        time.sleep(0.3)  # past listening: accepting logins

    def command(self) -> list[str]:
        raise NotImplementedError

    def url(self, tag: str, address: str | None = None, port: int | None = None) -> str:
        """A new, empty store for ``tag``, reached at ``address:port`` (a relay's, or the
        server's own by default)."""
        raise NotImplementedError

    def ping(self, address: str | None = None, port: int | None = None,
             count: int = 15) -> float:
        """The median seconds of a trivial request on one connection to ``address:port``
        (the server's own by default): a round trip plus the server's least work."""
        timings = sorted(self._pings(address or self.address, port or self.port, count))
        return timings[len(timings) // 2]

    def _pings(self, address: str, port: int, count: int) -> list[float]:
        raise NotImplementedError

    def pids(self) -> list[int]:
        return [int(p) for p in run("ip", "netns", "pids", self.host.namespace,
                                    check=False).stdout.split()]

    def cpu_seconds(self) -> float:
        """CPU seconds used by the server so far (live processes + reaped children)."""
        root = self.process.pid if self.process is not None else -1
        return sum(process_cpu(pid, children=pid == root) for pid in self.pids())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)


class StorePostgres(StoreServer):
    """A cluster of the run's own: trust authentication for ``postgres``; run as the
    ``postgres`` user when the harness is root (PostgreSQL refuses root)."""

    store = "postgres"
    port = 5432

    def _as(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        user = pwd.getpwnam("postgres")
        os.chown(self.folder, user.pw_uid, user.pw_gid)
        return ["runuser", "-u", "postgres", "--"]

    def command(self) -> list[str]:
        data = self.folder / "data"
        if not data.exists():
            subprocess.run([*self._as(), str(_pg_tool("initdb")), "-D", str(data), "-U",
                            "postgres", "--auth=trust", "-E", "UTF8"], check=True,
                           timeout=180, capture_output=True)
            with open(data / "pg_hba.conf", "a") as hba:  # the lab's /24: its hosts only
                hba.write("host all all samenet trust\n")
        return [*self._as(), str(_pg_tool("postgres")), "-D", str(data), "-p", str(self.port),
                "-k", str(self.folder), "-c", f"listen_addresses={self.address}",
                "-c", "max_connections=200"]

    def _pings(self, address: str, port: int, count: int) -> list[float]:
        import psycopg

        with psycopg.connect(host=address, port=port, user="postgres", dbname="postgres",
                             autocommit=True, connect_timeout=10) as conn:
            return _timed(lambda: conn.execute("SELECT 1").fetchall(), count)

    def url(self, tag: str, address: str | None = None, port: int | None = None) -> str:
        return (f"postgresql://postgres@{address or self.address}:{port or self.port}/postgres"
                f"?schema=tb_{tag}")


def _timed(call: object, count: int) -> list[float]:
    timings = []
    for _ in range(count):
        began = time.monotonic()
        call()  # type: ignore[operator]
        timings.append(time.monotonic() - began)
    return timings


class StoreRedis(StoreServer):
    """A Redis of the run's own, append-only file fsynced every second."""

    store = "redis"
    port = 6379

    def command(self) -> list[str]:
        return ["redis-server", "--bind", self.address, "--port", str(self.port),
                "--protected-mode", "no", "--save", "", "--appendonly", "yes",
                "--appendfsync", "everysec", "--dir", str(self.folder), "--daemonize", "no",
                "--loglevel", "warning"]

    def _pings(self, address: str, port: int, count: int) -> list[float]:
        import redis

        client = redis.Redis(host=address, port=port, socket_timeout=10)
        try:
            return _timed(client.ping, count)
        finally:
            client.close()

    def url(self, tag: str, address: str | None = None, port: int | None = None) -> str:
        return f"redis://{address or self.address}:{port or self.port}/0?prefix=tb_{tag}"


class StoreMariaDB(StoreServer):
    """A MariaDB of the run's own: its own datadir, durable commits, no binary log."""

    store = "mysql"
    port = 3306

    def command(self) -> list[str]:
        data = self.folder / "data"
        user = ["--user=root"] if os.geteuid() == 0 else []
        if not data.exists():
            install = shutil.which("mariadb-install-db") or "mysql_install_db"
            subprocess.run([install, "--no-defaults", f"--datadir={data}", *user,
                            "--auth-root-authentication-method=normal", "--skip-test-db"],
                           check=True, timeout=300, capture_output=True)
        server = shutil.which("mariadbd") or "mysqld"
        return [server, "--no-defaults", f"--datadir={data}", *user, f"--port={self.port}",
                f"--bind-address={self.address}", f"--socket={self.folder / 'mysqld.sock'}",
                f"--pid-file={self.folder / 'mysqld.pid'}", "--skip-log-bin",
                "--skip-name-resolve", "--innodb-buffer-pool-size=64M",
                "--performance-schema=OFF", "--max-connections=300"]

    def _run_sql(self, *statements: str) -> None:
        """Run ``statements`` as root over the server's own socket (root@localhost)."""
        import pymysql

        conn = pymysql.connect(unix_socket=str(self.folder / "mysqld.sock"), user="root")
        try:
            for statement in statements:
                conn.query(statement)
        finally:
            conn.close()

    def start(self) -> None:
        super().start()
        self._run_sql("CREATE USER IF NOT EXISTS 'root'@'%'", "GRANT ALL ON *.* TO 'root'@'%'")

    def _pings(self, address: str, port: int, count: int) -> list[float]:
        import pymysql

        conn = pymysql.connect(host=address, port=port, user="root", connect_timeout=10)
        try:
            return _timed(lambda: conn.query("SELECT 1"), count)
        finally:
            conn.close()

    def url(self, tag: str, address: str | None = None, port: int | None = None) -> str:
        self._run_sql(f"CREATE DATABASE IF NOT EXISTS `tb_{tag}`")
        return f"mysql://root@{address or self.address}:{port or self.port}/tb_{tag}"


def store_server(store: str, host: Host, folder: Path) -> StoreServer:
    """The private server of ``store`` (not started) on ``host``."""
    kinds: dict[str, type[StoreServer]] = {"postgres": StorePostgres, "redis": StoreRedis,
                                           "mysql": StoreMariaDB}
    return kinds[store](host, folder / store)
