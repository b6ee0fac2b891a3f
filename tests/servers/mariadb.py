"""A private MariaDB (or MySQL) server with a data directory of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.servers import PrivateServer


class PrivateMariaDB(PrivateServer):
    """``mariadbd`` on a free port; the data directory is made by ``mariadb-install-db``
    on the first start. Durable settings (``innodb_flush_log_at_trx_commit=1``, the
    default), so a crash keeps every committed transaction; small buffers, no binary log.
    """

    name = "mariadb"
    start_timeout = 120.0  # crash recovery after a SIGKILL can take a while on a busy host

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.datadir = folder / "data"
        self.url = f"mysql://root@127.0.0.1:{self.port}"

    def prepare(self) -> None:
        install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if install is None:
            raise AssertionError("mariadb-install-db is not installed")
        done = subprocess.run(
            [install, "--no-defaults", f"--datadir={self.datadir}", *self._user(),
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            capture_output=True, timeout=300, text=True)
        if done.returncode != 0:
            raise AssertionError(f"{install} failed:\n{done.stdout}{done.stderr}")

    def command(self) -> list[str]:
        server = shutil.which("mariadbd") or shutil.which("mysqld") or "mariadbd"
        return [server, "--no-defaults", f"--datadir={self.datadir}", *self._user(),
                f"--port={self.port}", "--bind-address=127.0.0.1",
                f"--socket={self.folder / 'mysqld.sock'}",
                f"--pid-file={self.folder / 'mysqld.pid'}", "--skip-log-bin",
                "--innodb-buffer-pool-size=64M", "--performance-schema=OFF",
                "--max-connections=500", "--innodb-flush-log-at-trx-commit=1",
                f"--log-error={self.log_path}"]

    def ready(self) -> bool:
        import pymysql

        try:
            pymysql.connect(host="127.0.0.1", port=self.port, user="root",
                            connect_timeout=1).close()
            return True
        except pymysql.err.MySQLError:
            return False

    def store_url(self, tag: str) -> str:
        import pymysql

        database = f"tb_{tag}"[:64]
        conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root")
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
        finally:
            conn.close()
        return f"{self.url}/{database}"

    @staticmethod
    def _user() -> list[str]:
        return ["--user=root"] if os.geteuid() == 0 else []  # mariadbd refuses root otherwise
