"""A child process main that breaks the process executor's protocol, to prove the worker
refuses what it sends. ``tests/test_process_executor.py`` puts it in place of the real one.

It runs tasks named ``crunch`` as the real child does, answers ``refuse`` with the reply
of another task (as a reply left over from an earlier task would read), and answers
``explode`` with bytes that are no pickle.
"""

from __future__ import annotations

from multiprocessing.connection import Connection

from taskbasket.worker.processes import run_request

STALE_ID = "00000000-0000-7000-8000-000000000000"


def lying_child_main(conn: Connection) -> None:
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        qualname = request[3]
        if qualname == "refuse":
            conn.send((STALE_ID, "stale-token", "ok", None))
        elif qualname == "explode":
            conn.send_bytes(b"not a pickle")
        else:
            conn.send(run_request(request))
