"""A Redis server of the run's own, on a loopback port, started and stopped by the harness.

The shared Redis at 127.0.0.1:6379 also serves the tests of everyone on the machine, and
their chaos tests cut every client's connection (``CLIENT KILL TYPE normal``): in a run
on it, arq's worker died and saq's jobs hung on such cuts. A private server (same
settings as the shared one: nothing on disk, one I/O thread) makes every system's figure
its own, and its CPU is only the run's. ``--shared-redis`` uses database 13 of the shared
server instead.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

PORT = 6391


@contextmanager
def private_redis(port: int = PORT) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``redis-server`` on 127.0.0.1:``port`` until the block ends."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("make compare runs a Redis server of its own and needs redis-server "
                         "on PATH (apt-get install redis-server), or pass --shared-redis")
    folder = tempfile.mkdtemp(prefix="tb-compare-redis-")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", folder, "--io-threads", "1", "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"redis-server did not start on port {port} (taken?): "
                                     "pass --shared-redis") from None
                time.sleep(0.05)
        client.close()
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
