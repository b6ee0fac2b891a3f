"""A PostgreSQL cluster of a test's own, for tests that stop or restart the server.

The shared servers on the machine serve every test (and every engineer) at once: a test
that restarts one breaks whatever else runs. This starts a private cluster (initdb,
pg_ctl) in a temporary folder, on a free port, and removes it afterwards.
``missing()`` says which tool is absent; the tests then skip, or fail when the store is
required (``TASKBASKET_REQUIRE_BACKENDS``, see ``tests.stores.skip_unless_required``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def accepts(port: int) -> bool:
    """Whether something listens on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _postgres_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return versions[-1] if versions else None


def as_postgres_user(folder: Path) -> list[str]:
    """The command prefix that runs a program as the ``postgres`` user when we are root
    (PostgreSQL and PgBouncer refuse to run as root), after giving it ``folder``; else []."""
    if os.geteuid() != 0:
        return []
    user = pwd.getpwnam("postgres")
    os.chown(folder, user.pw_uid, user.pw_gid)
    return ["runuser", "-u", "postgres", "--"]


def postgres_user_missing() -> str | None:
    """Why, as root, a program cannot be run as the ``postgres`` user, or None."""
    if os.geteuid() != 0:
        return None
    if shutil.which("runuser") is None:
        return "runuser is missing: as root, the server runs as user postgres"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "there is no postgres user to run the server as (not as root)"
    return None


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own: ``initdb`` in a temporary folder, served
    by ``pg_ctl`` on a free port, trust authentication for user ``postgres``. As root
    (PostgreSQL refuses to run as root) it runs as the ``postgres`` user."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="tb-postgres-"))
        self.data = self.folder / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as = as_postgres_user(self.folder)

    @staticmethod
    def missing() -> str | None:
        """What this machine lacks to run a private cluster, or None."""
        for tool in ("initdb", "pg_ctl"):
            if _postgres_tool(tool) is None:
                return f"{tool} is not installed (apt-get install postgresql)"
        return postgres_user_missing()

    def _pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        subprocess.run([*self._as, str(_postgres_tool("pg_ctl")), "-D", str(self.data), "-w",
                        "-t", "120", "-l", str(self.folder / "server.log"), "-o", options,
                        *args], check=True, timeout=180, capture_output=True)

    def start(self) -> None:
        if not self.data.exists():
            subprocess.run([*self._as, str(_postgres_tool("initdb")), "-D", str(self.data),
                            "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                           check=True, timeout=180, capture_output=True)
        self._pg_ctl("start")

    def restart(self) -> None:
        self._pg_ctl("-m", "fast", "restart")

    def close(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            if self.data.exists() and accepts(self.port):
                self._pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
