"""OpenTelemetry tracing: a span for each enqueue, linked to a span for each execution.

``OpenTelemetryTracing(basket)`` installs two middlewares. At enqueue it starts a PRODUCER
span ``enqueue <task>`` and stores its trace context (W3C ``traceparent``) with the task;
at execution it starts a CONSUMER span ``run <task>`` as a child of, and linked to, that
enqueue span, so one trace shows a request, the tasks it enqueued and their runs (each
retry a span of its own). Needs only ``opentelemetry-api``; the application configures the
SDK and exporter as usual. ``pip install 'taskbasket[tracing]'``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from taskbasket.context import TaskContext
from taskbasket.errors import ConfigurationError

if TYPE_CHECKING:
    from taskbasket.basket import Basket


class OpenTelemetryTracing:
    """Traces a basket's enqueues and executions with the OpenTelemetry API."""

    def __init__(self, basket: Basket, tracer_provider: Any = None) -> None:
        try:
            from opentelemetry import trace
        except ImportError as exc:
            raise ConfigurationError(
                "tracing needs opentelemetry-api: pip install 'taskbasket[tracing]'"
            ) from exc
        self.tracer = trace.get_tracer("taskbasket", tracer_provider=tracer_provider)
        basket.enqueue_middleware(self.enqueue_span)
        basket.middleware(self.execution_span)

    def enqueue_span(self, name: str, headers: dict[str, str]) -> Generator[None, None, None]:
        from opentelemetry import propagate, trace

        with self.tracer.start_as_current_span(
            f"enqueue {name}", kind=trace.SpanKind.PRODUCER,
            attributes={"taskbasket.task.name": name, "messaging.system": "taskbasket",
                        "messaging.operation": "publish"},
        ):
            propagate.inject(headers)
            yield

    def execution_span(self, task: TaskContext) -> Generator[None, None, None]:
        from opentelemetry import propagate, trace

        parent = propagate.extract(dict(task.headers))
        enqueue_context = trace.get_current_span(parent).get_span_context()
        links = [trace.Link(enqueue_context)] if enqueue_context.is_valid else []
        with self.tracer.start_as_current_span(
            f"run {task.name}", context=parent, kind=trace.SpanKind.CONSUMER, links=links,
            attributes={"taskbasket.task.id": task.id, "taskbasket.task.name": task.name,
                        "taskbasket.queue": task.queue, "taskbasket.attempt": task.attempt,
                        "messaging.system": "taskbasket", "messaging.operation": "process"},
        ):
            yield
