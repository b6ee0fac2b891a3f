"""A handler's result and progress as stored text: encoded with the arguments' JSON rules,
checked against the size limit, decoded for ``Task.result`` and ``Task.progress``."""

from __future__ import annotations

import json
import math
import time
from typing import Any

from taskbasket.codec import _ENCODER, _find_unserialisable
from taskbasket.errors import StoreCorruptedError
from taskbasket.storable import storable_text
from taskbasket.task import TaskProgress

DEFAULT_MAX_RESULT_BYTES = 1024 * 1024
"""``Basket(max_result_bytes=...)``'s default: a result's JSON may take 1 MiB."""


class UnstorableResult(TypeError):
    """A handler returned what cannot be stored: its task fails at once with this text."""


def encode_result(task_name: str, value: Any, max_bytes: int = DEFAULT_MAX_RESULT_BYTES
                  ) -> str | None:
    """The JSON text of a handler's return value (None for None: nothing to store).

    UnstorableResult names the value JSON cannot hold, or the size over ``max_bytes``,
    and the fix.
    """
    if value is None:
        return None
    try:
        text = _ENCODER.encode(value)
        size = len(text) if text.isascii() else len(text.encode("utf-8"))
        where = _find_unserialisable(value, "result") if not isinstance(
            value, str | int | float | bool) else None
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError) as exc:
        where = _find_unserialisable(value, "result") or f"result ? ({exc})"
    if where is not None:
        raise UnstorableResult(
            f"the return value of task {task_name!r} cannot be stored: {where} is not "
            "JSON-serialisable; return plain JSON values (str, int, float, bool, None, "
            "list, dict with str keys), e.g. an id instead of an object")
    if size > max_bytes:
        raise UnstorableResult(
            f"the return value of task {task_name!r} takes {size} bytes as JSON, over the "
            f"limit of {max_bytes}; store large data elsewhere and return a reference, or "
            "raise Basket(max_result_bytes=...)")
    return text


def decode_result(task_id: str, text: str | None) -> Any:
    """The stored result (None when there is none); StoreCorruptedError if unreadable."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise StoreCorruptedError(
            f"stored result of task {task_id} cannot be decoded ({exc}); stored text "
            f"begins {text[:80]!r}") from exc


def encode_progress(done: float, total: float | None, note: str | None) -> str:
    """The JSON text of one progress report, stamped with this host's time; ValueError
    for a number that is not finite or a note that is not text."""
    for name, number in (("done", done), ("total", total)):
        if number is not None and (isinstance(number, bool) or not isinstance(
                number, int | float) or not math.isfinite(number)):
            raise ValueError(f"progress {name} must be a finite number, not {number!r}")
    if note is not None and not isinstance(note, str):
        raise ValueError(f"progress note must be a str, not {type(note).__name__}")
    document = {"done": done, "total": total,
                "note": None if note is None else storable_text(note[:1000]),
                "updated_at": time.time()}
    return _ENCODER.encode(document)


def decode_progress(text: str | None) -> TaskProgress | None:
    """The stored progress report, or None (also for one that cannot be read)."""
    if not text:
        return None
    try:
        data = json.loads(text)
        from datetime import UTC, datetime

        return TaskProgress(done=data["done"], total=data.get("total"),
                            note=data.get("note"),
                            updated_at=datetime.fromtimestamp(data["updated_at"], UTC))
    except (ValueError, TypeError, KeyError, OverflowError, OSError):
        return None


__all__ = ["DEFAULT_MAX_RESULT_BYTES", "UnstorableResult", "decode_progress", "decode_result",
           "encode_progress", "encode_result"]
