"""OpenTelemetry: the enqueue span and the execution span share a trace and are linked."""

from __future__ import annotations

import pytest

from taskbasket import Basket, current_task
from tests.stores import skip_unless_required

try:
    import opentelemetry.sdk  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    skip_unless_required("opentelemetry", f"the test extra installs opentelemetry-sdk ({exc})",
                         allow_module_level=True)

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from taskbasket.tracing import OpenTelemetryTracing


@pytest.mark.needs("task_records")
def test_enqueue_and_execution_spans_are_linked(basket: Basket) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    OpenTelemetryTracing(basket, tracer_provider=provider)
    seen: list[str] = []

    @basket.task(max_attempts=2, backoff=0.05)
    def report(n: int) -> None:
        ctx = current_task()
        assert ctx is not None and "traceparent" in ctx.headers
        seen.append(ctx.headers["traceparent"])
        if ctx.attempt == 1:
            raise ValueError("first attempt fails")

    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("http request") as request:
        ref = report.enqueue(7)
    task = basket.get(ref.id)
    assert task is not None and task.args == [7] and task.kwargs == {}  # headers stay apart
    basket.worker(concurrency=1, visibility_timeout=5, poll_interval=0.05).run_until_empty(30)
    spans = {s.name: s for s in exporter.get_finished_spans() if s.name != "run report"}
    runs = [s for s in exporter.get_finished_spans() if s.name == "run report"]
    enqueue = spans["enqueue report"]
    trace_id = request.get_span_context().trace_id
    assert enqueue.context.trace_id == trace_id
    assert enqueue.parent is not None
    assert enqueue.parent.span_id == request.get_span_context().span_id
    assert len(runs) == 2  # one span per attempt
    for run in runs:
        assert run.context.trace_id == trace_id
        assert run.parent is not None and run.parent.span_id == enqueue.context.span_id
        assert [link.context.span_id for link in run.links] == [enqueue.context.span_id]
        assert run.attributes["taskbasket.task.id"] == ref.id
    failed_run = next(r for r in runs if not r.status.is_ok)
    messages = [e.attributes.get("exception.message") for e in failed_run.events]
    assert "first attempt fails" in messages
    assert len(set(seen)) == 1
