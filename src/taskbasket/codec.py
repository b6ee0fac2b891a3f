"""Turning a task's arguments into stored JSON text and back, with errors that help."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from taskbasket.errors import ConfigurationError, StoreCorruptedError

DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024


def _find_unserialisable(value: Any, path: str, depth: int = 0) -> str | None:
    """The path and type of the first value JSON cannot hold, or None."""
    if depth > 200:
        return f"{path} (nested more than 200 levels deep)"
    if value is None or isinstance(value, bool | int | str):
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return f"{path} (a str holding a lone surrogate, not valid UTF-8)"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path} (float {value!r}, not valid JSON)"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path} (a dict key {key!r} of type {type(key).__name__}; use str keys)"
            found = _find_unserialisable(item, f"{path}[{key!r}]", depth + 1)
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _find_unserialisable(item, f"{path}[{index}]", depth + 1)
            if found:
                return found
        return None
    return f"{path} (of type {type(value).__name__})"


_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False, separators=(",", ":"))
_SCALARS = (str, int, float, bool, type(None))


def _containers(args: Sequence[Any], kwargs: Mapping[str, Any]) -> bool:
    """Whether any argument is not a scalar (a loop: cheaper than any() for few items)."""
    for arg in args:
        if not isinstance(arg, _SCALARS):
            return True
    return bool(kwargs) and any(not isinstance(v, _SCALARS) for v in kwargs.values())


def _locate(args: Sequence[Any], kwargs: Mapping[str, Any]) -> str | None:
    where = None
    for index, arg in enumerate(args):
        where = where or _find_unserialisable(arg, f"args[{index}]")
    for key, arg in kwargs.items():
        where = where or _find_unserialisable(arg, f"kwargs[{key!r}]")
    return where


def encode_arguments(
    task_name: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    headers: Mapping[str, str] | None = None,
) -> str:
    """JSON text of a task's arguments; TypeError names an argument JSON cannot hold.

    JSON would quietly change a dict's int keys into strings, so arguments holding
    containers are walked first and such keys refused: the handler must get what was sent.
    Scalars need no walk; the encoder refuses NaN, objects and lone surrogates itself.
    """
    where = _locate(args, kwargs) if _containers(args, kwargs) else None
    if where is None:
        document: dict[str, Any] = {"args": list(args), "kwargs": dict(kwargs)}
        if headers:
            document["headers"] = dict(headers)  # e.g. a trace context; never the handler's
        try:
            text = _ENCODER.encode(document)
            # ASCII text is its own size; encoding the rest also refuses lone surrogates
            size = len(text) if text.isascii() else len(text.encode("utf-8"))
        except (TypeError, ValueError, RecursionError, UnicodeEncodeError) as exc:
            where = _locate(args, kwargs) or f"? ({exc})"
    if where is not None:
        raise TypeError(
            f"argument {where} of task {task_name!r} is not JSON-serialisable: pass plain "
            "JSON values (str, int, float, bool, None, list, dict with str keys), e.g. an "
            "id instead of an object"
        )
    if size > max_bytes:
        raise ConfigurationError(
            f"arguments of task {task_name!r} take {size} bytes as JSON, over the limit "
            f"of {max_bytes}; store large data elsewhere and pass a reference, or raise "
            "Basket(max_payload_bytes=...)"
        )
    return text


def decode_arguments(task_id: str, payload: str) -> tuple[list[Any], dict[str, Any]]:
    """The stored arguments; StoreCorruptedError if they are not what encode wrote."""
    args, kwargs, _ = decode_payload(task_id, payload)
    return args, kwargs


def decode_payload(
    task_id: str, payload: str
) -> tuple[list[Any], dict[str, Any], dict[str, str]]:
    """The stored arguments and headers; StoreCorruptedError if unreadable."""
    try:
        data = json.loads(payload)
        args = data["args"]
        kwargs = data["kwargs"]
        headers = data.get("headers") or {}
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise TypeError("args must be a list and kwargs an object")
        if not isinstance(headers, dict):
            raise TypeError("headers must be an object")
    except (ValueError, TypeError, KeyError) as exc:
        preview = payload[:80] if isinstance(payload, str) else repr(payload)[:80]
        raise StoreCorruptedError(
            f"stored arguments of task {task_id} cannot be decoded ({exc.__class__.__name__}: "
            f"{exc}); stored text begins {preview!r}. The task cannot run: fix or delete it"
        ) from exc
    return args, kwargs, headers
