"""What the MySQL store's mixins (schedules, steps) use of ``MySQLBackend``, declared once
for the type checker; the backend defines each."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from taskbasket.backends.mysql.session import Session
from taskbasket.backends.mysql.settings import Settings

T = TypeVar("T")


class MySQLAccess:
    """The backend's settings, table and statement runners, as its mixins see them."""

    settings: Settings
    table: str
    _max_statement: int

    def _run(self, work: Callable[[Session], T], *, transaction: bool, idempotent: bool,
             migrate: bool = True) -> T:
        raise NotImplementedError

    def _read(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _write(self, sql: str, args: Sequence[Any]) -> int:
        raise NotImplementedError

    def _notify(self) -> None:
        raise NotImplementedError


__all__ = ["MySQLAccess"]
