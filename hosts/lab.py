"""A lab: the network of one run, its store host running one private server, and worker
hosts whose links to the store can be delayed and cut.

Delay goes on the link with ``tc netem`` where the kernel has it; where it has not (the
``netem`` qdisc missing, as on some VM kernels), each worker host reaches the store
through a delaying relay of its own (``hosts.relay``) on the bridge's address. Cuts are
always made in the kernel: a host's link set down drops every packet, as a DROP rule does.

``Lab.close`` stops the workers, the relays and the server and removes the network; it
runs at exit and on SIGINT/SIGTERM too (``_guard``), so an interrupted run leaves nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from hosts.net import Host, Network, run, sweep_leftovers
from hosts.servers import StoreServer, store_server

ROOT = Path(__file__).resolve().parent.parent
_OPEN: list[Lab] = []


def has_netem() -> bool:
    """Whether the kernel has the ``netem`` qdisc (tried on a throwaway dummy link)."""
    name = "tbhnetemprobe"
    if run("ip", "link", "add", name, "type", "dummy", check=False).returncode != 0:
        return False
    try:
        return run("tc", "qdisc", "add", "dev", name, "root", "netem", "delay", "1ms",
                   check=False).returncode == 0
    finally:
        run("ip", "link", "del", name, check=False)


_PREVIOUS: dict[int, Any] = {}  # the signal handlers in place before the first lab
_REGISTERED: list[bool] = []


def _close_all(*_: Any) -> None:
    for lab in list(_OPEN):
        with contextlib.suppress(Exception):
            lab.close()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _close_all()
    signal.signal(signum, _PREVIOUS.get(signum, signal.SIG_DFL))
    raise KeyboardInterrupt(f"signal {signum}: the hosts run cleaned up and stopped")


def _guard(lab: Lab) -> None:
    """Close ``lab`` at exit and on SIGINT/SIGTERM (handlers in place while a lab is
    open; the previous ones come back when the last one closes)."""
    if not _REGISTERED:
        atexit.register(_close_all)
        _REGISTERED.append(True)
    if not _OPEN:
        with contextlib.suppress(ValueError):  # not the main thread: atexit only
            for signum in (signal.SIGINT, signal.SIGTERM):
                _PREVIOUS[signum] = signal.signal(signum, _on_signal)
    _OPEN.append(lab)


def _unguard(lab: Lab) -> None:
    if lab in _OPEN:
        _OPEN.remove(lab)
    if not _OPEN:
        with contextlib.suppress(ValueError):
            for signum, handler in list(_PREVIOUS.items()):
                signal.signal(signum, handler)
        _PREVIOUS.clear()


@dataclass
class Relay:
    """A ``hosts.relay`` process: a worker host's delayed path to the store."""

    port: int
    process: subprocess.Popen[str]

    def delay(self, rtt_ms: float, jitter_ms: float = 0.0) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"delay {rtt_ms / 2} {jitter_ms / 2}\n")
        self.process.stdin.flush()
        self.process.stdout.readline()

    def stats(self) -> dict[str, int]:
        """The relay's counts so far: chunks and bytes each way."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        counts: dict[str, int] = json.loads(self.process.stdout.readline())
        return counts

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@dataclass
class Lab:
    """One store server on host ``store`` and ``workers`` worker hosts ``w1``.."""

    store: str
    workers: int = 1
    network: Network = field(default_factory=Network)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tbh-")))
    server: StoreServer | None = None
    netem: bool = False
    relays: dict[str, Relay] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def open(self) -> Lab:
        sweep_leftovers()
        _guard(self)
        self.folder.chmod(0o755)  # the postgres user reaches its cluster's folder
        try:
            return self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> Lab:
        self.netem = has_netem()
        self.network.open()
        store_host = self.network.add_host("store")
        for index in range(1, self.workers + 1):
            self.network.add_host(f"w{index}")
        self.server = store_server(self.store, store_host, self.folder)
        self.server.start()
        if not self.netem:
            for index in range(1, self.workers + 1):
                self.relays[f"w{index}"] = self._relay(6000 + index)
        return self

    def _relay(self, port: int) -> Relay:
        assert self.server is not None
        process = subprocess.Popen(
            [sys.executable, "-m", "hosts.relay", self.network.gateway, str(port),
             self.server.address, str(self.server.port)], cwd=ROOT, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("the delaying relay did not start")
        return Relay(port, process)

    @property
    def shaping(self) -> str:
        return "tc netem" if self.netem else "relay (no netem in this kernel)"

    def host(self, name: str) -> Host:
        return self.network.hosts[name]

    def url(self, name: str, tag: str) -> str:
        """The store URL for the host ``name`` (``store``: the server's own address)."""
        assert self.server is not None
        relay = self.relays.get(name)
        if relay is None:
            return self.server.url(tag)
        return self.server.url(tag, self.network.gateway, relay.port)

    def delay(self, name: str, rtt_ms: float, jitter_ms: float = 0.0) -> float:
        """Make a round trip between ``name`` and the store take ``rtt_ms`` more; the
        milliseconds it was measured to add (a store request's median, delayed minus
        undelayed). A relay's timers overshoot by a fraction of a millisecond each, so
        its delay is corrected from that measure (a few times at most)."""
        if self.netem:
            self.network.shape(name, rtt_ms, jitter_ms)
            return rtt_ms
        assert self.server is not None
        relay = self.relays[name]
        relay.delay(0)
        base = self.server.ping(self.network.gateway, relay.port, 21)
        if rtt_ms <= 0:
            relay.delay(0, jitter_ms)
            return 0.0
        setting, added = rtt_ms, 0.0
        for _ in range(4):  # bounded: a few corrections at most
            relay.delay(setting, jitter_ms)
            added = (self.server.ping(self.network.gateway, relay.port, 21) - base) * 1000
            if abs(added - rtt_ms) <= max(0.25, rtt_ms * 0.05):
                break
            setting = max(0.0, setting + rtt_ms - added)
        return added

    def cut(self, name: str) -> None:
        self.network.cut(name, "drop" if self.netem else "down")

    def reconnect(self, name: str) -> None:
        self.network.reconnect(name)

    def spawn(self, name: str, args: list[str], log: Path,
              env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start ``args`` inside host ``name`` (killed by ``close`` if still running)."""
        with open(log, "ab") as out:
            process = subprocess.Popen(self.host(name).command(*args), cwd=ROOT, env=env,
                                       stdout=out, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def close(self) -> None:
        """Stop everything this lab started and remove its network and folder."""
        _unguard(self)
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(10)
        for relay in self.relays.values():
            relay.stop()
        if self.server is not None:
            with contextlib.suppress(Exception):
                self.server.stop()
        self.network.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Lab:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
