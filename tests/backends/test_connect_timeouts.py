"""A server that accepts connections and never answers (a hung host, a wrong port behind a
proxy) is given up on after the same bound on every networked store: 10 s by default."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from taskbasket import BackendUnavailableError, Basket

BOUND = 10.0
DEADLINE = 3 * BOUND  # a wait on the outcome; on main MySQL took 120 s


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port whose server accepts every connection and never sends a byte."""
    server = socket.create_server(("127.0.0.1", 0), backlog=64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for conn in accepted:
            conn.close()
        server.close()


@pytest.mark.slow
def test_every_store_gives_up_on_a_silent_server_within_the_same_bound(
    silent_port: int,
) -> None:
    urls = {
        "postgres": f"postgresql://postgres@127.0.0.1:{silent_port}/test",
        "mysql": f"mysql://root@127.0.0.1:{silent_port}/test",
        "redis": f"redis://127.0.0.1:{silent_port}/0?prefix=tb_silent",
    }
    outcomes: dict[str, BaseException | None] = {}
    done = {name: threading.Event() for name in urls}

    def connect(name: str) -> None:
        try:
            with Basket(urls[name]) as basket:
                basket.count()
            outcomes[name] = None
        except BaseException as exc:
            outcomes[name] = exc
        finally:
            done[name].set()

    for name in urls:  # at once: the three waits overlap
        threading.Thread(target=connect, args=(name,), daemon=True).start()
    for name, event in done.items():
        assert event.wait(DEADLINE), f"{name} still waits on a silent server after {DEADLINE}s"
    for name, outcome in outcomes.items():
        assert isinstance(outcome, BackendUnavailableError), (name, outcome)
        assert str(silent_port) in str(outcome), (name, outcome)  # it names the server
