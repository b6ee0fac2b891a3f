"""A delaying TCP relay: the link emulator used where the kernel has no ``netem``.

``python -m hosts.relay LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT`` forwards every
connection made to it to the target, holding each chunk of bytes, in each direction, for
the one-way delay before writing it on (order kept; jitter never reorders). The delay is
set by lines on stdin: ``delay ONE_WAY_MS JITTER_MS``; ``stats`` prints the
counts (``COUNTS``) as a JSON line. It prints ``ready`` once it
listens and exits when stdin closes (its parent, the harness, went away) or on SIGTERM.

A relay emulates delay and jitter, not loss (TCP would hide it); cuts are made in the
kernel (a link set down), so the peers see a real silence.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time

ONE_WAY = [0.0, 0.0]  # seconds of delay, seconds of jitter
COUNTS = {"up_chunks": 0, "up_bytes": 0, "down_chunks": 0, "down_bytes": 0}
"""What went through: chunks (one per read: a request or a reply) and bytes, each way."""


def _due() -> float:
    delay, jitter = ONE_WAY
    if jitter:
        delay = max(0.0, random.gauss(delay, jitter))
    return time.monotonic() + delay


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                way: str) -> None:
    """Copy ``reader`` to ``writer``, each chunk held until its due time; counted."""
    chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        last = 0.0
        while True:
            due, data = await chunks.get()
            if not data:
                writer.close()
                return
            last = max(last, due)  # jitter never reorders the stream
            wait = last - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    sender = asyncio.ensure_future(deliver())
    try:
        while True:
            data = await reader.read(65536)
            if data:
                COUNTS[f"{way}_chunks"] += 1
                COUNTS[f"{way}_bytes"] += len(data)
            await chunks.put((_due(), data))
            if not data:
                break
        await sender
    except (ConnectionError, OSError):
        sender.cancel()
        writer.close()


async def _serve(target_host: str, target_port: int, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
    try:
        up_reader, up_writer = await asyncio.wait_for(
            asyncio.open_connection(target_host, target_port), timeout=10)
    except (TimeoutError, OSError):
        writer.close()
        return
    await asyncio.gather(_pump(reader, up_writer, "up"), _pump(up_reader, writer, "down"),
                         return_exceptions=True)


async def _control() -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        words = line.split()
        if len(words) == 3 and words[0] == "delay":
            ONE_WAY[0], ONE_WAY[1] = float(words[1]) / 1000, float(words[2]) / 1000
            print("ok", flush=True)
        elif words == ["stats"]:
            print(json.dumps(COUNTS), flush=True)


async def main(listen_host: str, listen_port: int, target_host: str, target_port: int) -> None:
    server = await asyncio.start_server(
        lambda r, w: _serve(target_host, target_port, r, w), listen_host, listen_port)
    print("ready", flush=True)
    async with server:
        await _control()


if __name__ == "__main__":
    host, port, to_host, to_port = sys.argv[1:5]
    asyncio.run(main(host, int(port), to_host, int(to_port)))
