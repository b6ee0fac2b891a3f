"""redis-py's errors as taskbasket's, each naming the server and the fix."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, Protocol, TypeVar, cast

import redis.exceptions

from taskbasket.errors import BackendUnavailableError, StoreCorruptedError

P = ParamSpec("P")
R = TypeVar("R")


class RedisUnavailableError(BackendUnavailableError, redis.exceptions.ConnectionError):
    """Redis cannot be reached or dropped the connection; a running worker retries."""


class _Named(Protocol):
    where: str
    prefix: str


def translated(method: Callable[P, R]) -> Callable[P, R]:
    """Turn redis-py's errors into taskbasket's, naming the server (a method of a store
    with ``where`` and ``prefix``)."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        self = cast(_Named, args[0])
        try:
            return method(*args, **kwargs)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            if isinstance(exc, BackendUnavailableError):
                raise
            raise RedisUnavailableError(
                f"Redis at {self.where} is unreachable or dropped the connection "
                f"({type(exc).__name__}: {exc}); check that the server runs and the URL's "
                "host and port are right"
            ) from exc
        except redis.exceptions.ResponseError as exc:
            text = str(exc)
            if "WRONGTYPE" in text:
                raise StoreCorruptedError(
                    f"Redis at {self.where} holds keys under the prefix {self.prefix!r} that "
                    f"taskbasket did not write ({text}); choose another prefix with "
                    "?prefix=NAME in the URL"
                ) from exc
            raise BackendUnavailableError(
                f"Redis at {self.where} refused a command: {text}"
            ) from exc

    return wrapper


__all__ = ["RedisUnavailableError", "translated"]
