"""A task's completed steps as stored: the JSON text of ``[[name, result], ...]`` in the
order the handler ran them, each result the JSON text of ``encode_result`` (or null).

The text is written whole by the lease holder (``steps_record``); a run of the handler
replays it from the top, and the determinism check compares each step it runs with the
stored one at the same position.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from taskbasket.errors import StepDeterminismError, StoreCorruptedError


def decode_steps(task_id: str, text: str | None) -> list[tuple[str, str | None]]:
    """The stored steps of ``task_id`` (name, result text); StoreCorruptedError if the text
    is not the list the core writes."""
    if text is None:
        return []
    try:
        items = json.loads(text)
        steps = [(str(name), None if result is None else str(result))
                 for name, result in items]
    except (ValueError, TypeError) as exc:
        raise StoreCorruptedError(
            f"the stored steps of task {task_id} cannot be decoded ({exc}); stored text "
            f"begins {text[:80]!r}") from exc
    return steps


def encode_steps(steps: list[tuple[str, str | None]]) -> str | None:
    """The text ``decode_steps`` reads back (None for no step)."""
    if not steps:
        return None
    return json.dumps([[name, result] for name, result in steps], separators=(",", ":"))


@dataclass
class Journal:
    """The steps of one run of a handler: those stored (``stored``) and where the run is
    (``position``: how many steps it has reached), with the names it used."""

    task_id: str
    task_name: str
    stored: list[tuple[str, str | None]]
    position: int = 0
    names: set[str] = field(default_factory=set)

    def reach(self, name: str) -> tuple[bool, str | None]:
        """The run reaches step ``name``: (True, its stored result) if it completed in an
        earlier run, else (False, None). StepDeterminismError if a step of that name was
        already completed in this run, or the stored run had another step here."""
        if name in self.names:
            raise StepDeterminismError(
                f"task {self.task_name} ({self.task_id}): the step name {name!r} is used "
                "twice in one run of the handler; give each step a unique name (e.g. "
                f"{name!r} and '{name}#2')")
        if self.position < len(self.stored):
            stored_name, result = self.stored[self.position]
            if stored_name != name:
                raise StepDeterminismError(
                    f"task {self.task_name} ({self.task_id}): step {self.position + 1} of "
                    f"this run is {name!r}, but the stored run's step {self.position + 1} "
                    f"was {stored_name!r}; the handler must run its steps in the same "
                    "order every time (changed code? retry the task once its steps are "
                    "compatible, or enqueue a new one)")
            self.names.add(name)
            self.position += 1
            return True, result
        return False, None  # (its name is taken once it is recorded: a step that raised
        # may be tried again under the same name in the same run)

    def completed(self, name: str, result: str | None) -> list[tuple[str, str | None]]:
        """The stored steps with ``name`` appended (what to record)."""
        return [*self.stored, (name, result)]

    def advance(self, steps: list[tuple[str, str | None]]) -> None:
        """``steps`` were recorded: the run is past the last of them."""
        self.stored = steps
        self.position = len(steps)
        self.names.update(name for name, _ in steps[-1:])


__all__ = ["Journal", "decode_steps", "encode_steps"]
