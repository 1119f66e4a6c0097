"""OpenTelemetry export following the GenAI semantic conventions (imported only when it is on).

Per run an `invoke_agent sidekick` span (INTERNAL), a `chat {model}` span (CLIENT) per model call and an
`execute_tool {name}` span (INTERNAL) per tool call, with gen_ai.* attributes; the metrics
gen_ai.client.token.usage and gen_ai.client.operation.duration per model call. A W3C `traceparent` (and
`tracestate`) in the request's `_meta` makes the run span a child of the host's span. Export is OTLP over
HTTP/protobuf, configured by the standard OTEL_* variables; the providers are this module's own (the global
ones are left alone) and are flushed at exit.

error.type values: a model call's error kind (timeout, rate_limit, auth, connection, bad_request, ...), a
tool call's error class (tool_error, host_error, unknown_tool, or an exception's name), a run's error kind,
or `cancelled`.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from sidekick import __version__
from sidekick.hooks import (
    ModelCallEnded,
    ModelCallStarted,
    RunEnded,
    RunHooks,
    RunStarted,
    ToolCallEnded,
    ToolCallStarted,
)

AGENT_NAME = "sidekick"
SHUTDOWN_TIMEOUT_MS = 3_000
# The buckets the conventions advise for these two histograms.
TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]


class Telemetry:
    """This process's tracer and meter, exporting over OTLP/HTTP."""

    def __init__(self) -> None:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        attributes = {"service.version": __version__}
        if not os.environ.get("OTEL_SERVICE_NAME"):
            attributes["service.name"] = "eliza-sidekick"
        resource = Resource.create(attributes)
        # shutdown_on_exit=False: our own exit hook flushes both, within bounded time (see shutdown()).
        self.tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        self.tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self.meter_provider = MeterProvider(resource=resource, shutdown_on_exit=False,
                                            metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())])
        self.tracer = self.tracer_provider.get_tracer("sidekick", __version__)
        meter = self.meter_provider.get_meter("sidekick", __version__)
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS)
        self.operation_duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS)
        self.propagator = TraceContextTextMapPropagator()
        self._shut = False
        atexit.register(self.shutdown)

    def shutdown(self) -> None:
        """Export what is left, within SHUTDOWN_TIMEOUT_MS each for spans and metrics (once)."""
        if self._shut:
            return
        self._shut = True
        atexit.unregister(self.shutdown)
        self.tracer_provider.force_flush(SHUTDOWN_TIMEOUT_MS)
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown(timeout_millis=SHUTDOWN_TIMEOUT_MS)


_telemetry: Telemetry | None = None
_lock = threading.Lock()


def telemetry() -> Telemetry:
    """The process's Telemetry, made on first use."""
    global _telemetry
    with _lock:
        if _telemetry is None:
            _telemetry = Telemetry()
        return _telemetry


def _server(base_url: str | None) -> dict[str, Any]:
    if not base_url:
        return {}
    parts = urlsplit(base_url)
    if not parts.hostname:
        return {}
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {"server.address": parts.hostname, "server.port": port}


def _fail(span: Any, error_type: str) -> None:
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, error_type))


class OtelRun(RunHooks):
    """One run's spans and metrics."""

    def __init__(self, telemetry: Telemetry, *, provider: str, base_url: str | None = None,
                 traceparent: Any = None, tracestate: Any = None) -> None:
        self.t = telemetry
        self.provider = provider
        self.server = _server(base_url)
        carrier = {k: v for k, v in (("traceparent", traceparent), ("tracestate", tracestate)) if isinstance(v, str)}
        self.parent = telemetry.propagator.extract(carrier) if carrier else None
        self.model: str | None = None
        self.run_span: Any = None
        self.context: Any = None
        self.chats: dict[int, Any] = {}
        self.tools: dict[tuple[str, int], deque[Any]] = {}
        self.call_ids: dict[str, deque[str]] = {}  # ids of the calls the model asked for, by tool name

    def _common(self, operation: str) -> dict[str, Any]:
        attributes = {"gen_ai.operation.name": operation, "gen_ai.provider.name": self.provider}
        if self.model:
            attributes["gen_ai.request.model"] = self.model
        return attributes

    def on_run_start(self, event: RunStarted) -> None:
        self.model = event.model
        attributes = {**self._common("invoke_agent"), "gen_ai.agent.name": AGENT_NAME,
                      "sidekick.framework": event.framework, **self.server}
        self.run_span = self.t.tracer.start_span(f"invoke_agent {AGENT_NAME}", context=self.parent,
                                                 kind=SpanKind.INTERNAL, attributes=attributes)
        self.context = trace.set_span_in_context(self.run_span)

    def on_run_end(self, event: RunEnded) -> None:
        span, result = self.run_span, event.result
        if span is None:
            return
        for open_span in [*self.chats.values(), *(s for spans in self.tools.values() for s in spans)]:
            _fail(open_span, "cancelled")
            open_span.end()
        if result is None:
            _fail(span, "cancelled")
        else:
            span.set_attributes({"gen_ai.usage.input_tokens": result.usage.prompt_tokens,
                                 "gen_ai.usage.output_tokens": result.usage.completion_tokens,
                                 "sidekick.stop_reason": result.stop_reason, "sidekick.steps": len(result.steps)})
            if result.stop_reason == "error":
                _fail(span, (result.error.kind if result.error else None) or "_OTHER")
        span.end()

    def on_model_call_start(self, event: ModelCallStarted) -> None:
        name = f"chat {self.model}" if self.model else "chat"
        self.chats[event.turn] = self.t.tracer.start_span(
            name, context=self.context, kind=SpanKind.CLIENT, attributes={**self._common("chat"), **self.server})

    def on_model_call_end(self, event: ModelCallEnded) -> None:
        span = self.chats.pop(event.turn, None)
        metric = {**self._common("chat"), **self.server}
        if event.error is not None:
            metric["error.type"] = event.error
        self.t.operation_duration.record(event.duration_ms / 1000, metric)
        for name, call_id in zip(event.tool_calls, event.tool_call_ids):
            if call_id:
                self.call_ids.setdefault(name, deque()).append(call_id)
        if event.usage is not None:
            tokens = {**self._common("chat"), **self.server}
            self.t.token_usage.record(event.usage.prompt_tokens, {**tokens, "gen_ai.token.type": "input"})
            self.t.token_usage.record(event.usage.completion_tokens, {**tokens, "gen_ai.token.type": "output"})
        if span is None:
            return
        if event.usage is not None:
            span.set_attributes({"gen_ai.usage.input_tokens": event.usage.prompt_tokens,
                                 "gen_ai.usage.output_tokens": event.usage.completion_tokens})
        if event.finish_reason:
            span.set_attribute("gen_ai.response.finish_reasons", [event.finish_reason])
        if event.error is not None:
            _fail(span, event.error)
        span.end()

    def on_tool_call_start(self, event: ToolCallStarted) -> None:
        attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": event.name,
                      "gen_ai.tool.type": "function", "sidekick.tool.source": event.source}
        ids = self.call_ids.get(event.name)
        if ids:
            attributes["gen_ai.tool.call.id"] = ids.popleft()
        span = self.t.tracer.start_span(f"execute_tool {event.name}", context=self.context, kind=SpanKind.INTERNAL,
                                        attributes=attributes)
        # The same arguments object comes with the call's end: it tells parallel calls of one tool apart.
        self.tools.setdefault((event.name, id(event.arguments)), deque()).append(span)

    def on_tool_call_end(self, event: ToolCallEnded) -> None:
        key = (event.name, id(event.arguments))
        spans = self.tools.get(key)
        if not spans:
            return
        span = spans.popleft()
        if not spans:
            del self.tools[key]
        if not event.ok:
            _fail(span, event.error or "_OTHER")
        span.end()
