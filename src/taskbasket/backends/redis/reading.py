"""How the Redis store reads tasks for listings, counts and operator actions: hashes by id
(pipelined, each its own read), or pages of the ids a filter spec selects (the page script,
newest first, each page read atomically with its hashes and the server's time)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import redis

from taskbasket.backends.redis.keys import LISTED_FIELDS, KeyLayout
from taskbasket.backends.redis.records import decode_hash, text


class TaskReader:
    """Reads task hashes with ``client``; ``run_page`` runs the page script with the
    arguments after the prefix."""

    def __init__(self, client: redis.Redis, keys: KeyLayout,
                 run_page: Callable[[list[Any]], Any]) -> None:
        self._client = client
        self._keys = keys
        self._run_page = run_page

    def server_us(self) -> int:
        """The server's clock, in microseconds."""
        seconds, micros = self._client.time()
        return int(seconds) * 1_000_000 + int(micros)

    def rows(self, ids: Sequence[str], with_payload: bool = True) -> list[dict[str, str]]:
        """The decoded hashes of those of ``ids`` that exist (payload '' if not read)."""
        pipe = self._client.pipeline(transaction=False)
        for task_id in ids:
            if with_payload:
                pipe.hgetall(self._keys.task(task_id))
            else:
                pipe.hmget(self._keys.task(task_id), LISTED_FIELDS)
        rows = []
        for task_id, raw in zip(ids, pipe.execute(), strict=True):
            if not with_payload:
                raw = [item for field, value in zip(LISTED_FIELDS, raw, strict=True)
                       if value is not None for item in (field, value)]
            row = decode_hash(task_id, raw)
            if row is not None:
                row.setdefault("payload", "")
                rows.append(row)
        return rows

    def pages(
        self, spec: list[str], before: str | None, size: int, with_rows: bool,
        with_payload: bool = True,
    ) -> Iterator[tuple[int, list[str], list[dict[str, str]]]]:
        """Pages of the ids a spec selects below ``before``, newest first: the server's
        time, the ids and (``with_rows``) their decoded hashes."""
        cursor = before or ""
        rows_mode = ("1" if with_payload else "2") if with_rows else "0"
        while True:
            now, raw_ids, raw_rows = self._run_page([cursor, size, rows_mode, *spec])
            ids = [text(i) for i in raw_ids]
            if not ids:
                return
            rows: list[dict[str, str]] = []
            if with_rows:
                for task_id, raw in zip(ids, raw_rows, strict=True):
                    row = decode_hash(task_id, raw)
                    if row is not None:
                        row.setdefault("payload", "")
                        rows.append(row)
            yield int(now), ids, rows
            cursor = ids[-1]


__all__ = ["TaskReader"]
