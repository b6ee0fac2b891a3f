"""The Redis store's Lua scripts: their text, read from the ``.lua`` files in ``scripts/``.

A script is the shared prelude ``lib_base.lua``, then the ``lib_*.lua`` parts of this
library it uses, then its own file (Redis runs a script's top level on every call, so a
smaller prelude is a faster script). The insert script stands alone. ``script_text`` gives
the text sent to Redis; ``RedisScripts`` holds every script registered with a client.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from importlib import resources

import redis
from redis.commands.core import Script

from taskbasket.backends.redis.keys import LISTED_FIELDS

WAKE_CAP = 32
"""At most this many wake-up tokens wait in one list (one token wakes one idle worker)."""

BASE = "lib_base"
"""The prelude of every script but the insert: the prefix, the clock, the key layout and the
batched sorted-set, counter and wake-up writes."""

PARTS: dict[str, tuple[str, ...]] = {
    "claim": ("lib_move", "lib_promote", "lib_spec", "lib_unsound", "lib_set_aside"),
    "extend": (),
    "progress": (),
    "finish": ("lib_move", "lib_remove", "lib_workflow"),
    "expired": ("lib_unsound",),
    "rescue": ("lib_move", "lib_workflow"),
    "promote": ("lib_move", "lib_promote"),
    "leader": (),
    "page": ("lib_spec",),
    "count_by_name": ("lib_spec",),
    "count": ("lib_spec",),
    "operate": ("lib_move", "lib_remove", "lib_spec", "lib_workflow"),
    "prune": ("lib_move", "lib_remove"),
    "edit": ("lib_move", "lib_workflow"),
    "steps_record": (),
    "messages_send": ("lib_move",),
    "flow_read": ("lib_move", "lib_promote", "lib_spec"),
    "flow_take": ("lib_move",),
}
"""Each script that starts with the prelude, and the library parts it uses after it."""

STANDALONE = ("insert", "schedule_upsert", "schedule_set", "queue_update", "workers_beat",
              "workers_remove")
"""Scripts without the prelude. The insert keeps the layout of ``lib_base``'s helpers (tkey,
readykey, idxkey, rank, push) and of the counters: change both together. A single enqueue is
one call, so it carries no prelude it does not need."""

PLACEHOLDERS = {
    "__WAKE_CAP__": str(WAKE_CAP),
    "__LISTED_FIELDS__": ", ".join(f"'{name}'" for name in LISTED_FIELDS),
}
"""Names in the ``.lua`` files replaced by Python's values, so that both sides agree."""


COMPOSED: dict[str, tuple[str, ...]] = {"schedule_fire": ("schedule_fire", "insert")}
"""Scripts made of whole scripts run one after the other (the later files' shebangs
dropped): a schedule's fire is its compare-and-set, then the insert of the slot's task."""


WRAPPED: dict[str, tuple[tuple[str, ...], str, str]] = {
    "workflow_insert": ((BASE, "lib_move", "lib_workflow", "workflow_check"), "insert",
                        "workflow_link"),
}
"""Scripts that run a whole script inside another: the parts before it, the script (its
top level made a function whose reply is ``out``), then the part after it. A workflow's
insert checks the dependencies, runs the insert, then links the new tasks."""


def script_names() -> tuple[str, ...]:
    """Every script the store runs."""
    return (*STANDALONE, *PARTS, *COMPOSED, *WRAPPED)


def _body(text: str) -> str:
    return text.split("\n", 1)[1] if text.startswith("#!lua") else text


def _wrapped_text(name: str) -> str:
    before, inner, after = WRAPPED[name]
    texts = [read_lua(file) for file in before]
    return (texts[0] + "".join(_body(t) for t in texts[1:])
            + "local function inner_script()\n" + _body(read_lua(inner))
            + "\nend\nlocal out = inner_script()\n" + _body(read_lua(after)))


def read_lua(name: str) -> str:
    """The text of ``scripts/<name>.lua``."""
    folder = resources.files("taskbasket.backends.redis").joinpath("scripts")
    return folder.joinpath(f"{name}.lua").read_text(encoding="utf-8")


@functools.cache
def script_text(name: str) -> str:
    """The text of one script as Redis gets it: its parts, then its own file."""
    if name in STANDALONE:
        files: tuple[str, ...] = (name,)
    elif name in PARTS:
        files = (BASE, *PARTS[name], name)
    elif name in COMPOSED:
        files = COMPOSED[name]
    elif name in WRAPPED:
        return _placeholders(_wrapped_text(name))
    else:
        raise KeyError(f"no Redis script named {name!r}")
    texts = [read_lua(file) for file in files]
    return _placeholders(texts[0] + "".join(_body(t) for t in texts[1:]))


def _placeholders(text: str) -> str:
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return text


@dataclass(frozen=True)
class RedisScripts:
    """The store's scripts, registered with one client (``register_script``: run by SHA,
    loaded again when the server lost them). One field per script name."""

    insert: Script
    claim: Script
    extend: Script
    progress: Script
    finish: Script
    expired: Script
    rescue: Script
    promote: Script
    leader: Script
    page: Script
    count_by_name: Script
    count: Script
    operate: Script
    prune: Script
    edit: Script
    steps_record: Script
    messages_send: Script
    schedule_upsert: Script
    schedule_set: Script
    schedule_fire: Script
    workflow_insert: Script
    flow_read: Script
    flow_take: Script
    queue_update: Script
    workers_beat: Script
    workers_remove: Script

    @classmethod
    def register(cls, client: redis.Redis) -> RedisScripts:
        return cls(**{
            field.name: client.register_script(script_text(field.name))
            for field in fields(cls)
        })


__all__ = ["COMPOSED", "PARTS", "STANDALONE", "WAKE_CAP", "WRAPPED", "RedisScripts", "read_lua",
           "script_names", "script_text"]
