"""The worker's /healthz and /readyz: live while its claim loop goes round and its store
answers within the bound, ready while it takes work; a stopping worker stays live."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taskbasket import Basket
from taskbasket.health import health_app, serve_health
from taskbasket.worker.health import WorkerHealth
from tests.helpers import ROOT, wait_for
from tests.stores import available_store, new_store, unique_tag


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def probe(port: int, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# ---------------------------------------------------------------------- the rules


def test_a_worker_is_live_while_it_ticks_and_unhealthy_once_stalled() -> None:
    clock = FakeClock()
    health = WorkerHealth(stall_after=10, store_down_after=20, clock=clock)
    report = health.check()
    assert (report.live, report.ready, report.status) == (True, False, "starting")
    clock.now += 11  # never started within the bound: stuck waiting for its store
    report = health.check()
    assert not report.live and "waiting for the store" in report.problems[0]
    health.started()
    assert health.check().ready and health.check().status == "ok"
    clock.now += 9
    health.tick()
    clock.now += 9
    assert health.check().live
    clock.now += 2  # 11 s since the last round
    report = health.check()
    assert (report.live, report.ready, report.status) == (False, False, "unhealthy")
    assert "claim loop has not gone round for 11.0s (bound 10s)" in report.problems[0]


def test_a_failing_store_makes_it_unready_at_once_and_unhealthy_after_the_bound() -> None:
    clock = FakeClock()
    health = WorkerHealth(stall_after=100, store_down_after=20, clock=clock)
    health.started()
    health.store_failed()
    clock.now += 5
    health.store_failed()  # the outage counts from its first failure
    report = health.check()
    assert (report.live, report.ready, report.status) == (True, False, "store failing")
    assert report.store_failing_seconds == 5
    clock.now += 16
    report = health.check()
    assert not report.live and "failed every call for 21.0s (bound 20s)" in report.problems[0]
    health.store_answered()
    assert health.check().ready


def test_a_stopping_worker_stays_live_and_is_not_ready() -> None:
    clock = FakeClock()
    health = WorkerHealth(stall_after=10, store_down_after=10, clock=clock)
    health.started()
    health.stopping()
    clock.now += 3600  # a long grace period: the loop no longer goes round
    report = health.check()
    assert (report.live, report.ready, report.status) == (True, False, "stopping")


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="stall_after and store_down_after must be > 0"):
        WorkerHealth(stall_after=0)


# ---------------------------------------------------------------------- real workers


def make_basket(url: str) -> Basket:
    basket = Basket(url)

    @basket.task
    def noop() -> None:
        pass

    return basket


@pytest.fixture
def sqlite_basket(sqlite_url: str) -> Iterator[Basket]:
    basket = make_basket(sqlite_url)
    yield basket
    basket.close()


def test_the_endpoints_follow_a_real_worker_from_start_to_stop(sqlite_basket: Basket) -> None:
    worker = sqlite_basket.worker(concurrency=2, poll_interval=0.05, grace_period=5)
    server, _ = serve_health(worker, 0)
    port = server.server_port
    try:
        assert probe(port, "/readyz")[0] == 503  # not started yet
        assert probe(port, "/healthz")[0] == 200
        worker.start()
        status, body = probe(port, "/readyz")
        assert status == 200 and body["status"] == "ok" and body["ready"] is True
        assert probe(port, "/healthz")[0] == 200
        assert probe(port, "/metrics")[0] == 404  # health alone on its own port
        worker.stop()
        status, body = probe(port, "/readyz")
        assert status == 503 and body["status"] == "stopping"
        assert probe(port, "/healthz")[0] == 200
    finally:
        worker.stop()
        server.shutdown()
        server.server_close()


class _BlockingClaims:
    """The real store, with claims that block until released: a hung claim loop."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self.release = threading.Event()
        self.entered = threading.Event()

    def tasks_claim(self, params: Any) -> Any:
        self.entered.set()
        self.release.wait(30)
        return self._backend.tasks_claim(params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


def test_a_hung_claim_loop_fails_the_liveness_probe(sqlite_url: str) -> None:
    blocking = _BlockingClaims(Basket(sqlite_url).backend)
    basket = make_basket(sqlite_url)
    basket._backend = blocking  # type: ignore[assignment]
    worker = basket.worker(poll_interval=0.05, grace_period=0)
    worker.health = WorkerHealth(stall_after=0.5, store_down_after=30)
    server, _ = serve_health(worker, 0)
    try:
        worker.start()
        assert blocking.entered.wait(10)
        _status, body = wait_for(lambda: (r := probe(server.server_port, "/healthz"))[0] == 503
                                and r, 10, "/healthz to fail")
        assert "claim loop has not gone round" in body["problems"][0]
        blocking.release.set()
        wait_for(lambda: probe(server.server_port, "/healthz")[0] == 200, 10,
                 "/healthz to recover")
    finally:
        blocking.release.set()
        worker.stop()
        server.shutdown()
        server.server_close()
        blocking._backend.close()


class CuttableProxy:
    """A TCP proxy on loopback to a real server; ``cut`` refuses and drops every
    connection until ``restore``, as an unreachable store would.

    ``cut`` shuts sockets down before closing them: on Linux, closing a socket that
    another thread is blocked on (in ``accept`` or ``recv``) does not wake that thread,
    so the listener would still hand out one more connection and the piped ones would go
    on carrying data. A connection accepted while cut is dropped at once."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self._cut = False
        self.restore()

    def restore(self) -> None:
        with self._lock:
            self._cut = False
        self._server = socket.create_server(("127.0.0.1", self.port))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, args=(self._server,), daemon=True).start()

    def cut(self) -> None:
        assert self._server is not None
        with self._lock:
            self._cut = True
            for sock in [self._server, *self._connections]:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._connections.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client = server.accept()[0]
                upstream = socket.create_connection(self.target)
            except OSError:
                return
            with self._lock:
                if self._cut:  # accepted as the proxy was cut: refuse it
                    for sock in (client, upstream):
                        sock.close()
                    return
                self._connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def test_an_unreachable_store_fails_readiness_then_liveness_and_recovers(
    request: pytest.FixtureRequest,
) -> None:
    available_store("redis")
    with new_store("redis", unique_tag(request)) as url:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        proxy = CuttableProxy((parts.hostname or "127.0.0.1", parts.port or 6379))
        proxied = url.replace(parts.netloc, f"127.0.0.1:{proxy.port}")
        basket = make_basket(proxied)
        worker = basket.worker(poll_interval=0.05, visibility_timeout=3, grace_period=0)
        worker.health = WorkerHealth(stall_after=30, store_down_after=1.0)
        server, _ = serve_health(worker, 0)
        port = server.server_port
        try:
            worker.start()
            wait_for(lambda: probe(port, "/readyz")[0] == 200, 10, "ready")
            proxy.cut()
            _status, body = wait_for(lambda: (r := probe(port, "/readyz"))[0] == 503 and r,
                                    20, "/readyz to fail")
            assert body["status"] in ("store failing", "unhealthy")
            _status, body = wait_for(lambda: (r := probe(port, "/healthz"))[0] == 503 and r,
                                    20, "/healthz to fail")
            assert "the store has failed every call" in body["problems"][0]
            proxy.restore()
            wait_for(lambda: probe(port, "/healthz")[0] == 200
                     and probe(port, "/readyz")[0] == 200, 30, "recovery")
        finally:
            worker.stop(grace_period=0)
            server.shutdown()
            server.server_close()
            basket.close()
            proxy.cut()


def test_health_sits_beside_metrics_on_the_metrics_port(sqlite_basket: Basket) -> None:
    from taskbasket.metrics import serve_worker_metrics

    worker = sqlite_basket.worker(poll_interval=0.05)
    server, _ = serve_worker_metrics(worker, 0)
    try:
        worker.start()
        assert probe(server.server_port, "/healthz")[0] == 200
        assert probe(server.server_port, "/readyz")[0] == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics") as r:
            assert b"taskbasket_worker_slots" in r.read()
    finally:
        worker.stop()
        server.shutdown()
        server.server_close()


def test_only_get_is_answered(sqlite_basket: Basket) -> None:
    app = health_app(sqlite_basket.worker())
    seen: list[str] = []
    body = b"".join(app({"PATH_INFO": "/healthz", "REQUEST_METHOD": "POST"},
                        lambda status, headers: seen.append(status)))
    assert seen == ["405 Method Not Allowed"] and b"only GET" in body


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_worker_command_serves_health_on_its_own_port(tmp_path: Path) -> None:
    port = free_port()
    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}:{ROOT}",
               TB_EFFECTS=str(tmp_path / "effects.db"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskbasket", "worker", "tests.apps.crashapp:basket", "--url",
         url, "--health-port", str(port), "--unhealthy-after", "5"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        def ready() -> bool:
            try:
                return probe(port, "/readyz")[0] == 200
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                return False

        wait_for(ready, 30, "the worker's /readyz")
        assert probe(port, "/healthz")[0] == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
