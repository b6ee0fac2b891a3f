"""How taskbasket names and routes what it creates on a broker.

The task adapters (``taskbasket.backends.bus``) and :class:`BusConsumer` read and write the
same broker objects, so both take their names from here: the ``?prefix=`` option, the
queue names a bus can route, RabbitMQ's work queues and the routing into them, and the
NATS subjects and consumers of a queue. Names only: nothing here knows what a task is.

RabbitMQ routing: every message enters the work queues through one topic exchange (the
delivery exchange) with the routing key ``<DELAY_LEVELS binary digits>.<queue>``; the
digits are the delay (see ``taskbasket.backends.bus.amqp``), all zeros for a message due
now.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from taskbasket.errors import ConfigurationError

DEFAULT_PREFIX = "taskbasket"
MAX_BUS_QUEUE_LENGTH = 150

_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,64}")


def split_bus_url(url: str) -> tuple[str, str]:
    """The broker URL without taskbasket's ``?prefix=`` option, and that prefix.

    The prefix (default ``taskbasket``) names every queue, exchange, stream and subject
    taskbasket creates, so several applications (or tests) can share one broker.
    """
    parts = urlsplit(url)
    prefix = DEFAULT_PREFIX
    rest: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "prefix":
            prefix = value
        else:
            rest.append((key, value))
    if not _PREFIX.fullmatch(prefix):
        raise ConfigurationError(
            f"prefix {prefix!r} in {url!r} is not valid: use 1-64 letters, digits, '_' or "
            "'-' (it names queues, streams and subjects), e.g. ?prefix=myapp"
        )
    return urlunsplit(parts._replace(query=urlencode(rest))), prefix


def check_bus_queue(queue: str) -> str:
    """A queue name a bus can route: no wildcard characters, at most 150 characters."""
    bad = sorted({c for c in queue if c in "*#>" or c.isspace()})
    if bad:
        raise ConfigurationError(
            f"queue name {queue!r} has {''.join(bad)!r}, which message buses treat as "
            "wildcards or separators; use letters, digits, '.', '_' or '-'"
        )
    if len(queue) > MAX_BUS_QUEUE_LENGTH:
        raise ConfigurationError(
            f"queue name {queue!r} is {len(queue)} characters; on a message bus the limit "
            f"is {MAX_BUS_QUEUE_LENGTH} (the broker's names include a prefix and a suffix)"
        )
    if queue.endswith(".dead"):
        raise ConfigurationError(
            f"queue name {queue!r} ends with '.dead', which names dead-letter queues on a "
            "message bus; choose another name"
        )
    return queue


# --------------------------------------------------------------------------- RabbitMQ

MAX_PRIORITY = 10
WORK_QUEUE_ARGUMENTS = {"x-max-priority": MAX_PRIORITY}
"""Every declaration of a work queue must use the same arguments."""
DELAY_LEVELS = 29
"""Binary digits of a delay in routing keys (see ``taskbasket.backends.bus.amqp``)."""


def delivery_exchange(prefix: str) -> str:
    """The topic exchange every message enters its work queue through."""
    return f"{prefix}:delivery"


def work_queue(prefix: str, queue: str) -> str:
    return f"{prefix}.{queue}"


def delivery_pattern(queue: str) -> str:
    """The binding of a work queue to the delivery exchange."""
    return "*." * DELAY_LEVELS + queue


def delivery_key(queue: str, units: int = 0) -> str:
    """The routing key of a message for ``queue`` delayed by ``units``."""
    bits = ".".join(str((units >> n) & 1) for n in reversed(range(DELAY_LEVELS)))
    return f"{bits}.{queue}"


def work_routes(prefix: str, queues: Sequence[str]) -> list[tuple[str, str]]:
    """Each queue's work queue and its binding to the delivery exchange, as
    ``AmqpTransport.wait_routed`` takes them."""
    return [(work_queue(prefix, queue), delivery_pattern(queue)) for queue in queues]


def declare_work_queue(channel: Any, prefix: str, queue: str) -> None:
    """The durable work queue of ``queue``, bound to the delivery exchange."""
    channel.exchange_declare(delivery_exchange(prefix), "topic", durable=True)
    channel.queue_declare(work_queue(prefix, queue), durable=True,
                          arguments=WORK_QUEUE_ARGUMENTS)
    channel.queue_bind(work_queue(prefix, queue), delivery_exchange(prefix),
                       delivery_pattern(queue))


# --------------------------------------------------------------------------- NATS


def consumer_token(queue: str) -> str:
    """A queue name as a consumer name may hold it (no '.', '*', '>', spaces)."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", queue)
    if safe == queue:
        return queue
    return f"{safe[:60]}_{hashlib.sha1(queue.encode()).hexdigest()[:10]}"


def tasks_subject(prefix: str, queue: str) -> str:
    """The subject of ``queue``'s ready messages, in the stream named ``prefix``."""
    return f"{prefix}.tasks.{queue}"


def tasks_consumer(queue: str) -> str:
    """The durable pull consumer every worker of ``queue`` shares."""
    return f"tasks_{consumer_token(queue)}"
