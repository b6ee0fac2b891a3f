"""Converters between annotated Python values and JSON, one per annotation.

A dataclass, a pydantic (v2) model, a msgspec Struct, ``datetime``, ``date``, ``UUID``,
``Decimal`` and an ``Enum`` (and a list, tuple, set, dict or Optional of those) each have
one; any other annotation (``Any``, int, str, list, ...) has none and is passed as it is.
pydantic and msgspec are never imported here: a model is recognised only if its package
is already loaded, as it is when an annotation names one of its classes.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import sys
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


class Mismatch(Exception):
    """A value that does not fit its annotation: where it is and why."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


def _got(expected: str, value: object) -> str:
    return f"must be {expected}, got {type(value).__name__} {_preview(value)}"


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Converter:
    """How values of one annotation become JSON (``dump``) and come back (``load``).

    ``dump`` accepts an instance, or its JSON form if that loads (a schedule or a
    by-name producer may hold the JSON form); anything else raises Mismatch.
    """

    expected = "?"

    def dump(self, value: Any, where: str) -> Any:
        raise NotImplementedError

    def load(self, data: Any, where: str) -> Any:
        raise NotImplementedError


class _Scalar(Converter):
    """datetime, date, UUID, Decimal: an ISO 8601 or decimal string on the wire."""

    def __init__(self, kind: type, to_text: Callable[[Any], Any],
                 from_text: Callable[[Any], Any]) -> None:
        self.kind = kind
        self.expected = kind.__name__
        self._to_text = to_text
        self._from_text = from_text

    def dump(self, value: Any, where: str) -> Any:
        if self._is_instance(value):
            return self._to_text(value)
        return self._to_text(self.load(value, where))

    def _is_instance(self, value: Any) -> bool:
        if self.kind is date and isinstance(value, datetime):
            return False  # a datetime is a date to isinstance, not to fromisoformat
        return isinstance(value, self.kind)

    def load(self, data: Any, where: str) -> Any:
        if self._is_instance(data):
            return data
        if isinstance(data, str) or (self.kind is Decimal and type(data) is int):
            try:
                return self._from_text(data)
            except (ValueError, InvalidOperation) as exc:
                raise Mismatch(where, f"{_got(self.expected, data)} ({exc})") from None
        raise Mismatch(where, _got(self.expected, data))


def _decimal(data: Any) -> Decimal:
    return Decimal(str(data))


SCALARS: dict[type, Converter] = {
    datetime: _Scalar(datetime, datetime.isoformat, datetime.fromisoformat),
    date: _Scalar(date, date.isoformat, date.fromisoformat),
    uuid.UUID: _Scalar(uuid.UUID, str, uuid.UUID),
    Decimal: _Scalar(Decimal, str, _decimal),
}


class _Enum(Converter):
    """An Enum member: its value on the wire."""

    def __init__(self, kind: type[enum.Enum]) -> None:
        self.kind = kind
        self.expected = kind.__name__

    def dump(self, value: Any, where: str) -> Any:
        return self.load(value, where).value

    def load(self, data: Any, where: str) -> Any:
        try:
            return self.kind(data)
        except ValueError:
            values = ", ".join(repr(member.value) for member in self.kind)
            raise Mismatch(where, f"{_got(self.expected, data)}; its values are "
                                  f"{values}") from None


class _Optional(Converter):
    def __init__(self, inner: Converter) -> None:
        self.inner = inner
        self.expected = f"{inner.expected} | None"

    def dump(self, value: Any, where: str) -> Any:
        return None if value is None else self.inner.dump(value, where)

    def load(self, data: Any, where: str) -> Any:
        return None if data is None else self.inner.load(data, where)


class _Items(Converter):
    """list[X], tuple[X, ...], set[X], frozenset[X]: a JSON array."""

    def __init__(self, kind: type, inner: Converter) -> None:
        self.kind = kind
        self.inner = inner
        self.expected = f"{kind.__name__}[{inner.expected}]"

    def dump(self, value: Any, where: str) -> Any:
        if not isinstance(value, list | tuple | set | frozenset):
            raise Mismatch(where, _got(self.expected, value))
        return [self.inner.dump(item, f"{where}[{i}]") for i, item in enumerate(value)]

    def load(self, data: Any, where: str) -> Any:
        if not isinstance(data, list | tuple | set | frozenset):
            raise Mismatch(where, _got(self.expected, data))
        return self.kind(self.inner.load(item, f"{where}[{i}]") for i, item in enumerate(data))


class _Tuple(Converter):
    """tuple[X, Y]: a JSON array of that length."""

    def __init__(self, members: list[Converter | None], annotations: tuple[Any, ...]) -> None:
        self.members = members
        names = ", ".join(getattr(a, "__name__", repr(a)) if m is None else m.expected
                          for m, a in zip(members, annotations, strict=True))
        self.expected = f"tuple[{names}]"

    def _each(self, value: Any, where: str, dumping: bool) -> list[Any]:
        if not isinstance(value, list | tuple) or len(value) != len(self.members):
            raise Mismatch(where, _got(self.expected, value))
        return [item if member is None else (
                    member.dump if dumping else member.load)(item, f"{where}[{i}]")
                for i, (member, item) in enumerate(zip(self.members, value, strict=True))]

    def dump(self, value: Any, where: str) -> Any:
        return self._each(value, where, dumping=True)

    def load(self, data: Any, where: str) -> Any:
        return tuple(self._each(data, where, dumping=False))


class _Dict(Converter):
    """dict[str, X]: a JSON object."""

    def __init__(self, inner: Converter) -> None:
        self.inner = inner
        self.expected = f"dict[str, {inner.expected}]"

    def dump(self, value: Any, where: str) -> Any:
        if not isinstance(value, Mapping):
            raise Mismatch(where, _got(self.expected, value))
        return {key: self.inner.dump(item, f"{where}[{key!r}]") for key, item in value.items()}

    def load(self, data: Any, where: str) -> Any:
        if not isinstance(data, Mapping):
            raise Mismatch(where, _got(self.expected, data))
        return {key: self.inner.load(item, f"{where}[{key!r}]") for key, item in data.items()}


class _Dataclass(Converter):
    """A dataclass: a JSON object of its init fields, each converted by its annotation."""

    def __init__(self, kind: type) -> None:
        self.kind = kind
        self.expected = kind.__name__
        self.fields: dict[str, Converter | None] = {}

    def dump(self, value: Any, where: str) -> Any:
        if not isinstance(value, self.kind):
            if isinstance(value, Mapping):
                value = self.load(value, where)
            else:
                raise Mismatch(where, _got(self.expected, value))
        out: dict[str, Any] = {}
        for name, converter in self.fields.items():
            item = getattr(value, name)
            out[name] = item if converter is None else converter.dump(item, f"{where}.{name}")
        return out

    def load(self, data: Any, where: str) -> Any:
        if isinstance(data, self.kind):
            return data
        if not isinstance(data, Mapping):
            raise Mismatch(where, _got(self.expected, data))
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise Mismatch(where, f"{self.expected} has no field {', '.join(map(repr, unknown))}")
        values: dict[str, Any] = {}
        for name, item in data.items():
            converter = self.fields[name]
            values[name] = item if converter is None else converter.load(item, f"{where}.{name}")
        try:
            return self.kind(**values)
        except (TypeError, ValueError) as exc:
            raise Mismatch(where, f"cannot make {self.expected}: {exc}") from None


class _Pydantic(Converter):
    """A pydantic v2 model: ``model_dump(mode="json")`` and ``model_validate``."""

    def __init__(self, kind: Any) -> None:
        self.kind = kind
        self.expected = kind.__name__

    def dump(self, value: Any, where: str) -> Any:
        return self.load(value, where).model_dump(mode="json")

    def load(self, data: Any, where: str) -> Any:
        if isinstance(data, self.kind):
            return data
        if not isinstance(data, Mapping):
            raise Mismatch(where, _got(self.expected, data))
        try:
            return self.kind.model_validate(data)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise Mismatch(where, f"not a valid {self.expected}: {exc}") from None


class _Msgspec(Converter):
    """A msgspec Struct: ``msgspec.to_builtins`` and ``msgspec.convert``."""

    def __init__(self, kind: Any, msgspec: Any) -> None:
        self.kind = kind
        self.expected = kind.__name__
        self.msgspec = msgspec

    def dump(self, value: Any, where: str) -> Any:
        return self.msgspec.to_builtins(self.load(value, where))

    def load(self, data: Any, where: str) -> Any:
        if isinstance(data, self.kind):
            return data
        try:
            return self.msgspec.convert(data, self.kind)
        except self.msgspec.ValidationError as exc:
            raise Mismatch(where, f"not a valid {self.expected}: {exc}") from None


def _loaded_subclass(module: str, attribute: str, annotation: Any) -> Any:
    """The package ``module`` if it is loaded and ``annotation`` subclasses its class."""
    package = sys.modules.get(module)
    if package is None or not isinstance(annotation, type):
        return None
    base = getattr(package, attribute, None)
    return package if base is not None and issubclass(annotation, base) else None


def converter_for(annotation: Any, memo: dict[Any, Converter] | None = None) -> Converter | None:
    """The converter of an annotation, or None for a plain (unconverted) one."""
    memo = {} if memo is None else memo
    try:
        if annotation in memo:
            return memo[annotation]
        if annotation in SCALARS:
            return SCALARS[annotation]
    except TypeError:
        return None  # an unhashable annotation is none of these
    origin = typing.get_origin(annotation)
    members = typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:
        others = [m for m in members if m is not type(None)]
        if len(others) != 1 or len(members) != 2:
            return None  # a union of several types is not converted
        inner = converter_for(others[0], memo)
        return None if inner is None else _Optional(inner)
    if origin in (list, set, frozenset) or (origin is tuple and members[1:] == (...,)):
        inner = converter_for(members[0], memo) if members else None
        return None if inner is None else _Items(origin, inner)
    if origin is tuple:
        converters = [converter_for(m, memo) for m in members]
        return _Tuple(converters, members) if any(converters) else None
    if origin is dict and len(members) == 2 and members[0] is str:
        inner = converter_for(members[1], memo)
        return None if inner is None else _Dict(inner)
    if not isinstance(annotation, type):
        return None
    if issubclass(annotation, enum.Enum):
        return _Enum(annotation)
    if dataclasses.is_dataclass(annotation):
        converter = memo[annotation] = _Dataclass(annotation)
        hints = resolved_hints(annotation)
        converter.fields = {field.name: converter_for(hints.get(field.name, Any), memo)
                            for field in dataclasses.fields(annotation) if field.init}
        return converter
    if _loaded_subclass("pydantic", "BaseModel", annotation) is not None:
        return _Pydantic(annotation)
    msgspec = _loaded_subclass("msgspec", "Struct", annotation)
    return None if msgspec is None else _Msgspec(annotation, msgspec)


def resolved_hints(target: Any) -> dict[str, Any]:
    """``get_type_hints(target)``; if one annotation cannot be resolved (a name imported
    under TYPE_CHECKING only), the others, that one being left plain."""
    try:
        return typing.get_type_hints(target)
    except Exception:
        pass
    raw = dict(getattr(target, "__annotations__", {}) or {})
    namespace = getattr(inspect.unwrap(target), "__globals__", None)
    if namespace is None:
        namespace = vars(sys.modules.get(getattr(target, "__module__", ""), types))
    hints: dict[str, Any] = {}
    for name, annotation in raw.items():
        holder = types.SimpleNamespace(__annotations__={name: annotation})
        try:
            hints[name] = typing.get_type_hints(holder, globalns=namespace)[name]
        except Exception:
            continue
    return hints
