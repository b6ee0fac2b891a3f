"""Task ids: UUIDv7 strings that never go backwards in one process, one by one or in bulk."""

from __future__ import annotations

import threading
import uuid

from taskbasket.ids import new_task_id, new_task_ids


def test_ids_are_uuid7_and_keep_their_order_one_by_one_and_in_bulk() -> None:
    ids = [new_task_id() for _ in range(3)] + new_task_ids(10_000) + [new_task_id()]
    ids += new_task_ids(1) + new_task_ids(0) + new_task_ids(5)
    assert len(ids) == 10_010 and len(set(ids)) == len(ids)
    assert ids == sorted(ids)  # a bulk past 4096 ids a millisecond borrows the next ones
    for text in ids:
        value = uuid.UUID(text)
        assert str(value) == text
        assert value.version == 7 and value.variant == uuid.RFC_4122


def test_ids_from_threads_are_unique() -> None:
    made: list[list[str]] = []

    def make() -> None:
        made.append([new_task_id() for _ in range(500)] + new_task_ids(500))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for ids in made for i in ids]
    assert len(set(every)) == len(every) == 8000
    assert all(ids == sorted(ids) for ids in made)
