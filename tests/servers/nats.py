"""A private NATS server with JetStream."""

from __future__ import annotations

from tests.servers import PrivateServer


class PrivateNats(PrivateServer):
    """``nats-server -js`` on a free port with its JetStream store in the folder."""

    name = "nats"
    start_timeout = 30.0

    def command(self) -> list[str]:
        return ["nats-server", "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd",
                str(self.folder / "jetstream")]

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        """JetStream answers (the port opens a little before it is ready)."""
        if not super().ready():
            return False
        from taskbasket.transports.nats import NatsTransport

        try:
            transport = NatsTransport(self.url, connect_timeout=1)
        except Exception:
            return False
        try:
            transport.call(transport.js.account_info())
            return True
        except Exception:
            return False
        finally:
            transport.close()

    def store_url(self, tag: str) -> str:
        return f"{self.url}?prefix=tb_{tag}"
