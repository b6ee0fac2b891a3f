"""Typed arguments and results: a handler's annotations applied to its stored JSON, in
one place for every executor (threads, async, processes, drain and inline).

A handler's signature plan is read once, the first time it is used (so names defined
after the decorator resolve). Parameters annotated with a dataclass, a pydantic (v2)
model, a msgspec Struct, ``datetime``, ``date``, ``UUID``, ``Decimal`` or an ``Enum`` (or
a list, tuple, set, dict or Optional of those) are converted: ``to_wire`` at enqueue,
which checks each value so a wrong type fails at once naming the parameter, and
``from_wire`` in the worker, where a stored value that does not convert fails the attempt
with ArgumentsError (no retry). Unannotated parameters, ``Any`` and plain JSON types
(int, str, float, bool, list, dict) pass as they are, unchecked, as before.
``to_wire_result`` / ``from_wire_result`` do the same for a return annotation.
"""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from taskbasket.codec import decode_payload
from taskbasket.converters import Converter, Mismatch, converter_for, resolved_hints
from taskbasket.errors import ArgumentsError

_KIND = inspect.Parameter


@dataclass(frozen=True)
class SignaturePlan:
    """The converters of one handler's parameters and result (None: passed as it is)."""

    name: str
    positional: tuple[tuple[str, Converter | None], ...] = ()
    keywords: Mapping[str, Converter | None] = field(default_factory=dict)
    var_positional: Converter | None = None
    var_keyword: Converter | None = None
    result: Converter | None = None

    @property
    def converts_arguments(self) -> bool:
        return self.var_positional is not None or self.var_keyword is not None or any(
            converter is not None for converter in self.keywords.values()) or any(
            converter is not None for _, converter in self.positional)


_PLANS: weakref.WeakKeyDictionary[Any, SignaturePlan] = weakref.WeakKeyDictionary()


def plan_for(func: Callable[..., Any]) -> SignaturePlan:
    """The signature plan of ``func``, built once (a handler without a readable signature
    or without typed annotations gets a plan that converts nothing)."""
    try:
        return _PLANS[func]
    except (KeyError, TypeError):
        pass
    plan = build_plan(func)
    with contextlib.suppress(TypeError):  # not weakly referable: built again next time
        _PLANS[func] = plan
    return plan


def build_plan(func: Callable[..., Any]) -> SignaturePlan:
    """Read ``func``'s signature and annotations into a plan."""
    name = getattr(func, "__name__", repr(func))
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return SignaturePlan(name)
    hints = resolved_hints(func)
    memo: dict[Any, Converter] = {}
    positional: list[tuple[str, Converter | None]] = []
    keywords: dict[str, Converter | None] = {}
    var_positional = var_keyword = None
    for parameter in signature.parameters.values():
        converter = _converter(hints, parameter.name, memo)
        if parameter.kind in (_KIND.POSITIONAL_ONLY, _KIND.POSITIONAL_OR_KEYWORD):
            positional.append((parameter.name, converter))
        if parameter.kind in (_KIND.POSITIONAL_OR_KEYWORD, _KIND.KEYWORD_ONLY):
            keywords[parameter.name] = converter
        if parameter.kind is _KIND.VAR_POSITIONAL:
            var_positional = converter
        if parameter.kind is _KIND.VAR_KEYWORD:
            var_keyword = converter
    result = _converter(hints, "return", memo)
    return SignaturePlan(name, tuple(positional), keywords, var_positional, var_keyword, result)


def _converter(hints: Mapping[str, Any], name: str, memo: dict[Any, Converter],
               ) -> Converter | None:
    """The converter of one annotation; None (passed as it is) if there is none or it
    cannot be built: a plan must never break a handler that ran before typed arguments."""
    if name not in hints:
        return None
    try:
        return converter_for(hints[name], memo)
    except Exception:
        return None


def _convert(plan: SignaturePlan, args: Sequence[Any], kwargs: Mapping[str, Any],
             dumping: bool) -> tuple[list[Any], dict[str, Any]]:
    """Each argument through its parameter's converter; one that does not bind to a
    parameter is left as it is, for the binding check to explain."""
    out_args: list[Any] = []
    for index, value in enumerate(args):
        if index < len(plan.positional):
            name, converter = plan.positional[index]
        else:
            name, converter = f"*args[{index - len(plan.positional)}]", plan.var_positional
        out_args.append(_one(converter, value, name, dumping))
    out_kwargs: dict[str, Any] = {}
    for name, value in kwargs.items():
        converter = plan.keywords.get(name, plan.var_keyword)
        out_kwargs[name] = _one(converter, value, name, dumping)
    return out_args, out_kwargs


class _Received:
    """The stand-in of an argument a workflow step receives when it runs (the result of
    the step before it): bound and checked like any argument, converted by no one."""

    def __repr__(self) -> str:
        return "<received at run time>"


RECEIVED: Any = _Received()


def _one(converter: Converter | None, value: Any, name: str, dumping: bool) -> Any:
    if converter is None or value is RECEIVED:
        return value
    return converter.dump(value, name) if dumping else converter.load(value, name)


def to_wire(plan: SignaturePlan, args: Sequence[Any], kwargs: Mapping[str, Any],
            task: str | None = None) -> tuple[Sequence[Any], Mapping[str, Any]]:
    """The JSON form of a call's arguments; ArgumentsError names a parameter whose value
    is not of its annotated type (nor the JSON form of one)."""
    if not plan.converts_arguments:
        return args, kwargs
    try:
        return _convert(plan, args, kwargs, dumping=True)
    except Mismatch as exc:
        raise ArgumentsError(
            f"argument {exc.where!r} of task {task or plan.name!r} {exc.reason}") from None


def from_wire(plan: SignaturePlan, args: list[Any], kwargs: dict[str, Any],
              task: str | None = None) -> tuple[list[Any], dict[str, Any]]:
    """The handler's arguments from their stored JSON form; ArgumentsError if a stored
    value does not convert to its parameter's type."""
    if not plan.converts_arguments:
        return args, kwargs
    try:
        return _convert(plan, args, kwargs, dumping=False)
    except Mismatch as exc:
        raise ArgumentsError(f"stored argument {exc.where!r} of task {task or plan.name!r} "
                             f"cannot be converted: it {exc.reason}") from None


def to_wire_result(plan: SignaturePlan, value: Any) -> Any:
    """A handler's return value in its JSON form, by its return annotation; TypeError if
    the value is not of the annotated type."""
    if plan.result is None:
        return value
    try:
        return plan.result.dump(value, "result")
    except Mismatch as exc:
        raise TypeError(f"the result of task {plan.name!r} {exc.reason}") from None


def from_wire_result(plan: SignaturePlan, data: Any) -> Any:
    """A stored result as its return annotation's type; TypeError if it does not convert."""
    if plan.result is None:
        return data
    try:
        return plan.result.load(data, "result")
    except Mismatch as exc:
        raise TypeError(f"the stored result of task {plan.name!r} cannot be converted: it "
                        f"{exc.reason}") from None


def decode_call(func: Callable[..., Any], task_id: str, task_name: str, payload: str,
                ) -> tuple[list[Any], dict[str, Any], dict[str, str]]:
    """A stored call as ``func`` takes it: its arguments converted, and its headers.

    Raises StoreCorruptedError if the payload is unreadable and ArgumentsError if a value
    does not convert."""
    args, kwargs, headers = decode_payload(task_id, payload)
    args, kwargs = from_wire(plan_for(func), args, kwargs, task_name)
    return args, kwargs, headers


__all__ = [
    "RECEIVED", "SignaturePlan", "build_plan", "decode_call", "from_wire", "from_wire_result",
    "plan_for", "to_wire", "to_wire_result",
]
