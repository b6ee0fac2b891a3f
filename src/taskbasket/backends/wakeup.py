"""Cross-process wake-ups for stores without notifications, over Unix datagram sockets.

Each idle worker binds a socket in a folder beside the database; a producer that committed
tasks sends one byte to every socket there. A lost datagram costs only latency, because
workers still poll as a fallback. Sockets left by killed workers are removed when a send
to them is refused. The folder is this user's alone (mode 0700, see ``private_files``): a
symbolic link in its place is refused, and producers never send or unlink through one.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import socket
import threading

from taskbasket.backends.private_files import is_symlink, private_directory

log = logging.getLogger("taskbasket.worker")


class WakeupDirectory:
    """The folder of wake-up sockets of one store."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._send_socket: socket.socket | None = None
        self._lock = threading.Lock()
        self.usable = hasattr(socket, "AF_UNIX")

    def _sender(self) -> socket.socket:
        if self._send_socket is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.setblocking(False)
            self._send_socket = sock
        return self._send_socket

    def notify(self) -> None:
        """Wake every listening worker; never raises, never blocks."""
        if not self.usable:
            return
        if is_symlink(self.path):
            return  # not our folder: the workers refuse it too, and poll
        try:
            names = os.listdir(self.path)
        except OSError:
            return
        with self._lock:
            sender = self._sender()
            for name in names:
                if not name.endswith(".sock"):
                    continue
                target = os.path.join(self.path, name)
                try:
                    sender.sendto(b"!", target)
                except (ConnectionRefusedError, FileNotFoundError):
                    with contextlib.suppress(OSError):
                        os.unlink(target)  # its worker died without cleaning up
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.ENOBUFS, errno.EWOULDBLOCK):
                        continue

    def listener(self) -> WakeupListener | None:
        """A bound listener, or None where the folder cannot be used (read-only disk).

        ConfigurationError if the folder is a symbolic link or another user's.
        """
        if not self.usable:
            return None
        try:
            private_directory(self.path)
            return WakeupListener(self.path)
        except OSError as exc:
            log.warning("no wake-ups from %s (%s): this worker polls", self.path, exc)
            return None

    def close(self) -> None:
        with self._lock:
            if self._send_socket is not None:
                self._send_socket.close()
                self._send_socket = None


class WakeupListener:
    """One worker's socket; ``wait`` returns early when a producer sends to it."""

    def __init__(self, directory: str) -> None:
        name = f"{os.getpid()}-{os.urandom(4).hex()}.sock"
        self.path = os.path.join(directory, name)
        if len(self.path.encode()) > 100:  # the sun_path limit is 104-108 bytes
            raise OSError(errno.ENAMETOOLONG, "wake-up socket path too long", self.path)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(self.path)
        os.chmod(self.path, 0o600)  # just made, in a folder of ours: no link to follow
        self._socket.setblocking(False)
        self._closed = False
        self._wake_read, self._wake_write = os.pipe()

    def wait(self, timeout: float) -> bool:
        if self._closed:
            return False
        try:
            ready, _, _ = select.select(
                [self._socket.fileno(), self._wake_read], [], [], max(0, timeout)
            )
        except (OSError, ValueError):
            return False
        woken = False
        if self._socket.fileno() in ready:
            woken = True
            with contextlib.suppress(OSError):
                while self._socket.recv(64):
                    pass
        return woken

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        self._socket.close()
        os.close(self._wake_read)
        os.close(self._wake_write)
