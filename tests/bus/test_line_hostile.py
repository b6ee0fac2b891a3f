"""Hostile lines on the line transports (issue #14 F8): a line nested too deeply to decode
goes to the dead-letter file alone, and the lines read with it run."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from taskbasket.backends.base import ClaimParams
from taskbasket.backends.file import FileBackend, StreamBackend
from tests.helpers import wait_for

DEEP = "[" * 100_000 + "]" * 100_000
GOOD = [json.dumps({"name": "stamp", "id": f"good{n}"}) for n in range(3)]
BATCH = [GOOD[0], DEEP, GOOD[1], '{"name": "stamp", "args": [' + DEEP + "]}", GOOD[2]]


def _dead(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _check(backend: FileBackend | StreamBackend, dead: Path) -> None:
    claimed = backend.tasks_claim(ClaimParams("w", None, len(BATCH), 30.0))
    assert [task.id for task in claimed] == ["good0", "good1", "good2"]
    letters = _dead(dead)
    assert len(letters) == 2
    assert all("nested too deeply" in str(d["last_error"]) for d in letters)
    assert [d["payload"] for d in letters] == [BATCH[1], BATCH[3]]  # kept as written


def test_a_deep_line_in_a_file_dies_alone(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(line + "\n" for line in BATCH))
    backend = FileBackend(f"file://{tasks}")
    try:
        _check(backend, Path(f"{tasks}.dead"))
    finally:
        backend.close()


def test_a_deep_line_on_stdin_dies_alone(tmp_path: Path) -> None:
    read, write = os.pipe()
    dead = tmp_path / "dead.jsonl"
    stream = StreamBackend(f"stdin://?dead={dead}", input_fd=read)
    payload = "".join(line + "\n" for line in BATCH).encode()
    # the pipe holds less than the batch: write it from a thread
    writer = threading.Thread(target=lambda: (os.write(write, payload), os.close(write)))
    writer.start()
    try:
        claimed: list[str] = []

        def claim_all() -> bool:
            claimed.extend(t.id for t in stream.tasks_claim(ClaimParams("w", None, 5, 30.0)))
            return len(claimed) >= 3 or stream.finished()

        wait_for(claim_all, 30, "the good lines")
        assert claimed == ["good0", "good1", "good2"]
        letters = _dead(dead)
        assert [d["payload"] for d in letters] == [BATCH[1], BATCH[3]]
        assert all("nested too deeply" in str(d["last_error"]) for d in letters)
    finally:
        writer.join(30)
        os.close(read)
