"""Private servers: a Redis, MariaDB, RabbitMQ or NATS server of a test's (or a chaos
run's) own, on a free loopback port with its data in a folder of its own, so that it can
be crashed and restarted without disturbing anyone sharing the machine's servers.

Never restart the shared servers on the default ports: restart one of these instead.

``require_tools`` skips a test whose server programs are missing, and fails it instead
when ``TASKBASKET_REQUIRE_BACKENDS`` names the backend (or is ``all``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.stores import is_required


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def missing_tools(*names: str) -> list[str]:
    return [name for name in names if shutil.which(name) is None]


def require_tools(backend: str, *names: str) -> None:
    """Skip the test if one of the programs ``names`` is not installed; fail it instead
    if ``backend`` is required (``TASKBASKET_REQUIRE_BACKENDS``)."""
    missing = missing_tools(*names)
    if not missing:
        return
    reason = (f"a private {backend} server needs {', '.join(missing)}, which is not "
              "installed (see tests/servers/)")
    if is_required(backend):
        pytest.fail(f"{backend} is required (TASKBASKET_REQUIRE_BACKENDS) but: {reason}")
    pytest.skip(reason)


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class PrivateServer:
    """One server process in ``folder``, listening on ``port``.

    ``start`` launches it and waits until it accepts connections; ``stop`` asks it to shut
    down cleanly; ``crash`` SIGKILLs it (what a power cut or an OOM kill does to the
    process; its files keep what it had written); ``restart`` does one then ``start``.
    ``close`` stops it (if running) and removes nothing: the folder belongs to the caller.
    """

    name = "server"
    start_timeout = 60.0

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    # what each server defines
    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def ready(self) -> bool:
        return port_open(self.port)

    def prepare(self) -> None:
        """Make the data folder on the first start (e.g. initialise a database)."""

    def store_url(self, tag: str) -> str:
        """The URL of a new, empty store on this server."""
        raise NotImplementedError

    # the life cycle
    @property
    def log_path(self) -> Path:
        return self.folder / f"{self.name}.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.running():
            return
        if self.starts == 0:
            self.prepare()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(), env=self.environment(), cwd=self.folder, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        self.starts += 1
        process = self.process
        try:
            _wait(lambda: process.poll() is not None or self.ready(), self.start_timeout,
                  f"the private {self.name} on port {self.port} to start")
        except AssertionError:
            self._kill_group(signal.SIGKILL)
            raise AssertionError(f"the private {self.name} did not start:\n{self.log()[-3000:]}"
                                 ) from None
        if process.poll() is not None:
            raise AssertionError(f"the private {self.name} exited with {process.returncode}:"
                                 f"\n{self.log()[-3000:]}")

    def stop(self, timeout: float = 60.0) -> None:
        """A clean shutdown (SIGTERM); SIGKILL if it takes longer than ``timeout``."""
        if self.process is None:
            return
        self._kill_group(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill_group(signal.SIGKILL)
            self.process.wait(30)
        self._after_exit()

    def crash(self) -> None:
        """SIGKILL the server (and any child of its own), and wait until it is gone."""
        if self.process is None:
            return
        self._kill_group(signal.SIGKILL)
        self.process.wait(30)
        self._after_exit()

    def restart(self, crash: bool = True) -> float:
        """Crash (or stop) the server and start it again; returns the seconds it was down."""
        went_down = time.monotonic()
        if crash:
            self.crash()
        else:
            self.stop()
        self.start()
        return time.monotonic() - went_down

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.running():
                self.stop(timeout=30)
        with contextlib.suppress(Exception):
            self._kill_group(signal.SIGKILL)

    def _after_exit(self) -> None:
        _wait(lambda: not port_open(self.port), 30, f"port {self.port} to be free")

    def _kill_group(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def __enter__(self) -> PrivateServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def private_server(store: str, folder: Path, **options: Any) -> PrivateServer | None:
    """A private server for ``store`` (not started), or None if there is none for it."""
    if store == "redis":
        from tests.servers.redis import PrivateRedis

        return PrivateRedis(folder, **options)
    if store == "mysql":
        from tests.servers.mariadb import PrivateMariaDB

        return PrivateMariaDB(folder)
    if store == "amqp":
        from tests.servers.rabbitmq import PrivateRabbitMQ

        return PrivateRabbitMQ(folder)
    if store == "nats":
        from tests.servers.nats import PrivateNats

        return PrivateNats(folder)
    return None


TOOLS = {
    "redis": ("redis-server",),
    "mysql": ("mariadbd", "mariadb-install-db"),
    "amqp": ("rabbitmq-server", "rabbitmqctl"),
    "nats": ("nats-server",),
}
"""The programs each private server needs."""
