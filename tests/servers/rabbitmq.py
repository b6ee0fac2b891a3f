"""A private RabbitMQ node: its own node name, ports, Mnesia base, config and cookie."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.servers import PrivateServer, free_port

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
"""The real start script: /usr/sbin/rabbitmq-server switches to the rabbitmq user and
drops the environment that points the node at its own folder."""


def server_program() -> str | None:
    if os.path.exists(SERVER):
        return SERVER
    return shutil.which("rabbitmq-server")


class PrivateRabbitMQ(PrivateServer):
    """A RabbitMQ node ``tb-<port>@localhost`` on a free AMQP port (and a free
    distribution port), with its database, logs, config file, (empty) plugin list and
    Erlang cookie in the folder: it shares nothing with the machine's node but epmd.
    Starting one takes 10-30 s on a busy host."""

    name = "rabbitmq"
    start_timeout = 180.0

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.dist_port = free_port()
        self.node = f"tb-{self.port}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def prepare(self) -> None:
        for sub in ("home", "mnesia", "logs"):
            (self.folder / sub).mkdir(exist_ok=True)
        (self.folder / "enabled_plugins").write_text("[].\n")
        (self.folder / "rabbitmq-env.conf").write_text("")
        (self.folder / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users = none\n")

    def environment(self) -> dict[str, str]:
        folder = self.folder
        return dict(
            os.environ, HOME=str(folder / "home"), RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_PORT=str(self.port), RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(folder / "mnesia"), RABBITMQ_LOG_BASE=str(folder / "logs"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(folder / "enabled_plugins"),
            RABBITMQ_CONFIG_FILE=str(folder / "rabbitmq.conf"),
            RABBITMQ_CONF_ENV_FILE=str(folder / "rabbitmq-env.conf"),
            RABBITMQ_PID_FILE=str(folder / "rabbitmq.pid"), ERL_EPMD_ADDRESS="127.0.0.1")

    def command(self) -> list[str]:
        return [server_program() or SERVER]

    def ready(self) -> bool:
        """The broker takes AMQP connections (its port opens before it is ready)."""
        if not super().ready():
            return False
        import pika

        try:
            pika.BlockingConnection(pika.URLParameters(
                self.url + "?connection_attempts=1&socket_timeout=2")).close()
            return True
        except Exception:
            return False

    def store_url(self, tag: str) -> str:
        return f"{self.url}?prefix=tb_{tag}"
