"""The hosts of a run: network namespaces joined by veth pairs to a bridge of their own,
in a private /24 picked at start among those no interface or route of the machine uses.

Every name the run makes starts with ``tbh`` and the run's id, and the run writes its
pid in ``STATE_DIR``: ``sweep_leftovers`` removes what an earlier run that was killed
left behind (its pid is dead). ``Network.close`` removes everything this run made; the
guard in ``hosts.guard`` calls it at exit and on SIGINT/SIGTERM.

Traffic only ever goes between the namespaces made here and the bridge's own address.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "tbh"
STATE_DIR = Path("/run/taskbasket-hosts")
CANDIDATE_NETS = [f"10.213.{third}.0/24" for third in range(0, 250)]


class HostsUnavailable(RuntimeError):
    """The machine cannot run the harness (no root, no ``ip``/``tc``): the reason."""


def why_unavailable() -> str | None:
    """Why the harness cannot run here, or None."""
    if os.geteuid() != 0:
        return "the hosts harness needs root (network namespaces, tc)"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"the hosts harness needs `{tool}` (apt-get install iproute2)"
    probe = f"{PREFIX}probe{os.getpid() % 10000}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one command (``ip``, ``tc``), bounded to 30 s; raise with its stderr."""
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return done


def used_networks() -> list[ipaddress.IPv4Network]:
    """The IPv4 networks of every address and route of the machine (root namespace)."""
    found: list[ipaddress.IPv4Network] = []
    for entry in json.loads(run("ip", "-j", "-4", "addr").stdout or "[]"):
        for info in entry.get("addr_info", []):
            found.append(ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}",
                                              strict=False))
    for route in json.loads(run("ip", "-j", "-4", "route", "show", "table", "all").stdout
                            or "[]"):
        dst = route.get("dst", "")
        if dst and dst != "default":
            with contextlib.suppress(ValueError):
                found.append(ipaddress.ip_network(dst if "/" in dst else f"{dst}/32",
                                                  strict=False))
    return found


def pick_network() -> ipaddress.IPv4Network:
    """The first candidate /24 that overlaps nothing the machine uses."""
    used = used_networks()
    for text in CANDIDATE_NETS:
        net = ipaddress.ip_network(text)
        if not any(net.overlaps(other) for other in used):
            return net
    raise HostsUnavailable("every candidate 10.213.x.0/24 is in use on this machine")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_namespace_processes(namespace: str) -> None:
    """SIGKILL every process still inside ``namespace`` (a netns cannot hold a server)."""
    done = run("ip", "netns", "pids", namespace, check=False)
    for pid in done.stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def remove_run(run_id: str) -> None:
    """Remove every namespace and link named after ``run_id`` (idempotent)."""
    stem = f"{PREFIX}{run_id}"
    names = run("ip", "netns", "list", check=False).stdout.split("\n")
    for line in names:
        namespace = line.split(" ")[0]
        if namespace.startswith(stem):
            _kill_namespace_processes(namespace)
            run("ip", "netns", "del", namespace, check=False)
    links = json.loads(run("ip", "-j", "link").stdout or "[]")
    for link in links:
        if link.get("ifname", "").startswith(stem):
            run("ip", "link", "del", link["ifname"], check=False)
    with contextlib.suppress(FileNotFoundError):
        (STATE_DIR / f"{run_id}.json").unlink()


def sweep_leftovers() -> list[str]:
    """Remove the namespaces and links of earlier runs whose process is gone; their ids."""
    swept: list[str] = []
    if not STATE_DIR.exists():
        return swept
    for state in STATE_DIR.glob("*.json"):
        with contextlib.suppress(ValueError, OSError):
            pid = int(json.loads(state.read_text())["pid"])
            if not _pid_alive(pid):
                remove_run(state.stem)
                swept.append(state.stem)
    return swept


@dataclass
class Host:
    """One namespace: its name, its address and the two ends of its veth pair."""

    name: str
    namespace: str
    address: str
    inside: str  # the veth end in the namespace
    outside: str  # the end on the bridge
    shaped: str = ""  # the netem arguments now on both ends ("" none)
    cut: bool = False

    def command(self, *args: str) -> list[str]:
        """``args`` run inside this host's namespace."""
        return ["ip", "netns", "exec", self.namespace, *args]


@dataclass
class Network:
    """A bridge, a /24, and the hosts on it. ``close`` removes them all."""

    run_id: str = field(default_factory=lambda: os.urandom(2).hex())
    hosts: dict[str, Host] = field(default_factory=dict)
    net: ipaddress.IPv4Network | None = None
    closed: bool = False

    @property
    def bridge(self) -> str:
        return f"{PREFIX}{self.run_id}br"

    @property
    def gateway(self) -> str:
        """The bridge's address in the root namespace (where the harness itself runs)."""
        assert self.net is not None
        return str(self.net.network_address + 1)

    def open(self) -> Network:
        """Make the bridge in a free /24 and record the run's pid for later sweeps."""
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        (STATE_DIR / f"{self.run_id}.json").write_text(json.dumps({"pid": os.getpid()}))
        self.net = pick_network()
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")
        return self

    def add_host(self, name: str) -> Host:
        """A new namespace ``name`` with the next address, linked to the bridge."""
        assert self.net is not None
        index = len(self.hosts) + 2
        host = Host(name=name, namespace=f"{PREFIX}{self.run_id}-{name}",
                    address=str(self.net.network_address + index),
                    inside=f"{PREFIX}{self.run_id}h{index}",
                    outside=f"{PREFIX}{self.run_id}b{index}")
        self.hosts[name] = host
        run("ip", "netns", "add", host.namespace)
        run("ip", "link", "add", host.outside, "type", "veth", "peer", "name", host.inside)
        run("ip", "link", "set", host.inside, "netns", host.namespace)
        run("ip", "link", "set", host.outside, "master", self.bridge)
        run("ip", "link", "set", host.outside, "up")
        inside = ["ip", "netns", "exec", host.namespace]
        run(*inside, "ip", "addr", "add", f"{host.address}/24", "dev", host.inside)
        run(*inside, "ip", "link", "set", host.inside, "up")
        run(*inside, "ip", "link", "set", "lo", "up")
        return host

    # ------------------------------------------------------------------ faults

    def _netem(self, host: Host, arguments: list[str]) -> None:
        """Put ``netem arguments`` on both ends of ``host``'s link ([] removes it)."""
        for prefix, device in ((host.command(), host.inside), ([], host.outside)):
            if arguments:
                run(*prefix, "tc", "qdisc", "replace", "dev", device, "root", "netem",
                    *arguments)
            else:
                run(*prefix, "tc", "qdisc", "del", "dev", device, "root", check=False)

    def shape(self, name: str, rtt_ms: float, jitter_ms: float = 0.0,
              loss_pct: float = 0.0) -> None:
        """Delay ``name``'s link so that a round trip through it takes ``rtt_ms`` (half
        each way), with ``jitter_ms`` of jitter and ``loss_pct`` % loss each way."""
        host = self.hosts[name]
        arguments: list[str] = []
        if rtt_ms > 0:
            arguments += ["delay", f"{rtt_ms / 2:g}ms"]
            if jitter_ms > 0:
                arguments += [f"{jitter_ms / 2:g}ms", "distribution", "normal"]
        if loss_pct > 0:
            arguments += ["loss", f"{loss_pct:g}%"]
        arguments += ["limit", "100000"]
        self._netem(host, arguments if (rtt_ms > 0 or loss_pct > 0) else [])
        host.shaped = " ".join(arguments) if (rtt_ms > 0 or loss_pct > 0) else ""

    def cut(self, name: str, how: str = "drop") -> None:
        """Cut ``name`` off: every packet of its link dropped both ways (``drop``, what a
        DROP rule does: silence, the peers' TCP retransmits) or its link down (``down``)."""
        host = self.hosts[name]
        if how == "down":
            run("ip", "link", "set", host.outside, "down")
        else:
            self._netem(host, ["loss", "100%"])
        host.cut = True

    def reconnect(self, name: str) -> None:
        """Bring ``name`` back: its link up, its shaping as it was before the cut."""
        host = self.hosts[name]
        run("ip", "link", "set", host.outside, "up")
        self._netem(host, host.shaped.split() if host.shaped else [])
        host.cut = False

    # ------------------------------------------------------------------ ends

    def close(self) -> None:
        """Remove every namespace, link and the bridge of this run (safe twice)."""
        if self.closed:
            return
        self.closed = True
        remove_run(self.run_id)
