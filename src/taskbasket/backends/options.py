"""One declarative reader for a store's options, given in its URL's query string or as
keyword arguments: each option is named once with its parser, default and one line of
help; an unknown name gets an error that suggests the nearest known one ("did you mean").

A store may let other names through to its driver (libpq parameters, redis-py options)
with ``passthrough``; whatever neither it nor the store knows is refused.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from taskbasket.errors import ConfigurationError
from taskbasket.redaction import redact_url


@dataclass(frozen=True)
class StoreOption:
    """One option of a store: ``parse(name, value)`` turns the text or keyword value into
    what the store uses (raising ``ConfigurationError`` that names the fix), ``default``
    is used when it is not given."""

    name: str
    default: Any
    help: str
    parse: Callable[[str, Any], Any] = field(default=lambda _name, value: value)


def close_match(name: str, known: Iterable[str]) -> str:
    """``'name'``, with `` (did you mean 'other'?)`` when a known name is close."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


@dataclass(frozen=True)
class StoreOptions:
    """The options of one store (``store`` names it in errors, e.g. "PostgreSQL")."""

    store: str
    options: Sequence[StoreOption]

    @property
    def names(self) -> list[str]:
        return [option.name for option in self.options]

    def read(
        self, url: str, keywords: Mapping[str, Any], *,
        passthrough: Callable[[str], bool] | None = None,
        passthrough_names: Iterable[str] = (), passthrough_help: str = "",
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The parsed value of every option (keywords win over the URL's query), and the
        query pairs let through to the driver. Keyword arguments must be the store's own;
        a query name that is neither the store's nor let through is refused."""
        own = set(self.names)
        unknown_keywords = [k for k in keywords if k not in own]
        if unknown_keywords:
            raise ConfigurationError(
                f"unknown {self.store} store option(s) "
                f"{', '.join(close_match(k, own) for k in unknown_keywords)}; "
                f"the options are: {self.describe()}"
                + (f"; {passthrough_help}" if passthrough_help else "")
            )
        given: dict[str, Any] = {}
        rest: list[tuple[str, str]] = []
        strangers: list[str] = []
        for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
            if key in own:
                given[key] = value
            elif passthrough is not None and passthrough(key):
                rest.append((key, value))
            else:
                strangers.append(key)
        if strangers:
            candidates = [*own, *passthrough_names]
            raise ConfigurationError(
                f"unknown option(s) "
                f"{', '.join(close_match(k, candidates) for k in strangers)} in the "
                f"{self.store} URL {redact_url(url)!r}; the options are: {self.describe()}"
                + (f"; {passthrough_help}" if passthrough_help else "")
            )
        given.update({k: v for k, v in keywords.items() if v is not None})
        values = {
            option.name: option.parse(option.name, given[option.name])
            if option.name in given else option.default
            for option in self.options
        }
        return values, rest

    def describe(self) -> str:
        """Every option with its default and help, for error texts and docs."""
        return "; ".join(f"{o.name} (default {o.default!r}): {o.help}" for o in self.options)


def as_text(name: str, value: Any) -> str:
    return str(value)


def as_bool(name: str, value: Any) -> bool:
    """true/false, yes/no, on/off or 1/0."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"option {name}={value!r}: use true or false")


def as_int(minimum: int) -> Callable[[str, Any], int]:
    """A parser of whole numbers >= ``minimum``."""

    def parse(name: str, value: Any) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"option {name}={value!r} must be a whole number >= {minimum}") from None
        if isinstance(value, bool) or number < minimum or str(number) != str(value).strip():
            raise ConfigurationError(
                f"option {name}={value!r} must be a whole number >= {minimum}")
        return number

    return parse


def as_seconds(*, allow_zero: bool = False) -> Callable[[str, Any], float]:
    """A parser of finite numbers of seconds, > 0 (or >= 0 with ``allow_zero``)."""
    bound = ">= 0" if allow_zero else "> 0"

    def parse(name: str, value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"option {name}={value!r} must be a number of seconds {bound}") from None
        if not math.isfinite(number) or not (number >= 0 if allow_zero else number > 0):
            raise ConfigurationError(
                f"option {name}={value!r} must be a number of seconds {bound}")
        return number

    return parse


__all__ = ["StoreOption", "StoreOptions", "as_bool", "as_int", "as_seconds", "as_text",
           "close_match"]
