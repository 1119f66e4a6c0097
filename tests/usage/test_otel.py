"""OpenTelemetry: a real sidekick exports GenAI spans and metrics over OTLP/HTTP to a receiver this test runs on
127.0.0.1, which decodes the protobuf; a host's traceparent joins its trace. And with no endpoint set, nothing
of OpenTelemetry is imported at all."""

from __future__ import annotations

import gzip
import json
import logging
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

import sidekick.usage as usage
from sidekick.run_protocol import RunParams
from sidekick.testing.scripted_server import ScriptedOpenAIServer, tool_results
from tests.support.process import SidekickProcess

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


class OtlpReceiver:
    """An OTLP/HTTP collector in miniature: keeps every decoded export request, by signal."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

        self.kinds = {"/v1/traces": (trace_service_pb2.ExportTraceServiceRequest,
                                     trace_service_pb2.ExportTraceServiceResponse),
                      "/v1/metrics": (metrics_service_pb2.ExportMetricsServiceRequest,
                                      metrics_service_pb2.ExportMetricsServiceResponse)}
        self.received: dict[str, list[Any]] = {path: [] for path in self.kinds}
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                kind = receiver.kinds.get(self.path)
                if kind is None or self.headers.get("Content-Type") != "application/x-protobuf":
                    self.send_response(404)
                    self.end_headers()
                    return
                request, response = kind[0](), kind[1]()
                request.ParseFromString(body)
                with receiver.arrived:
                    receiver.received[self.path].append(request)
                    receiver.arrived.notify_all()
                data = response.SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def wait_for(self, path: str, predicate: Any, timeout: float = 30) -> list[Any]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: predicate(self.received[path]), timeout), f"no {path} in time"
            return list(self.received[path])

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="the otel extra is not installed")
    server = OtlpReceiver()
    yield server
    server.close()


def value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [value(v) for v in any_value.array_value.values]
    return getattr(any_value, kind)


def attributes(item: Any) -> dict[str, Any]:
    return {a.key: value(a.value) for a in item.attributes}


def spans_of(requests: list[Any]) -> list[Any]:
    return [span for request in requests for rs in request.resource_spans for ss in rs.scope_spans
            for span in ss.spans]


def metrics_of(requests: list[Any]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for request in requests:
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    found.setdefault(metric.name, []).append(metric)
    return found


def test_runs_are_exported_as_genai_spans_and_metrics_joining_the_hosts_trace(receiver: OtlpReceiver,
                                                                             tmp_path: Path) -> None:
    from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

    def script(body: dict[str, Any]) -> dict[str, Any]:
        if not tool_results(body):
            return {"tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}, "id": "call-ok"},
                                   {"name": "calculate", "arguments": {"expression": "6*"}, "id": "call-bad"}],
                    "usage": {"prompt_tokens": 30, "completion_tokens": 7}}
        return {"content": "42", "usage": {"prompt_tokens": 50, "completion_tokens": 3}}

    with ScriptedOpenAIServer(script) as server:
        process = SidekickProcess(env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                                       "SIDEKICK_USAGE_DB": str(tmp_path / "usage.db"),
                                       "SIDEKICK_BASE_URL": server.base_url, "SIDEKICK_MODEL": "scripted-model",
                                       "SIDEKICK_API_KEY": "k"})
        try:
            process.initialize()
            answer = process.request(1, "sidekick/run", {"task": "six times seven", "_meta": {"traceparent": TRACEPARENT}})
            assert answer["result"]["text"] == "42"
            tool = process.request(2, "tools/call", {"name": "run_task", "arguments": {"task": "again"},
                                                     "_meta": {"traceparent": f"00-{'1' * 32}-{'2' * 16}-01"}})
            assert tool["result"]["isError"] is False
        finally:
            assert process.close() == 0  # exit flushes both exporters

    spans = spans_of(receiver.wait_for("/v1/traces", lambda got: len(spans_of(got)) >= 2 * 5))
    runs = [s for s in spans if s.name == "invoke_agent sidekick"]
    assert len(runs) == 2
    run = next(s for s in runs if s.trace_id.hex() == TRACE_ID)
    assert run.parent_span_id.hex() == PARENT_ID and run.kind == Span.SPAN_KIND_INTERNAL
    assert attributes(run) == {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.provider.name": "openai", "gen_ai.agent.name": "sidekick",
        "gen_ai.request.model": "scripted-model", "sidekick.framework": "native", "server.address": "127.0.0.1",
        "server.port": int(server.base_url.split(":")[2].split("/")[0]), "gen_ai.usage.input_tokens": 80,
        "gen_ai.usage.output_tokens": 10, "sidekick.stop_reason": "done", "sidekick.steps": 2}
    other = next(s for s in runs if s is not run)
    assert other.trace_id.hex() == "1" * 32 and other.parent_span_id.hex() == "2" * 16  # run_task joins too

    children = [s for s in spans if s.trace_id == run.trace_id and s.parent_span_id == run.span_id]
    chats = [s for s in children if s.name == "chat scripted-model"]
    assert len(chats) == 2 and all(s.kind == Span.SPAN_KIND_CLIENT for s in chats)
    first = min(chats, key=lambda s: s.start_time_unix_nano)
    assert attributes(first)["gen_ai.operation.name"] == "chat"
    assert attributes(first)["gen_ai.usage.input_tokens"] == 30 and attributes(first)["gen_ai.usage.output_tokens"] == 7
    assert attributes(first)["gen_ai.response.finish_reasons"] == ["tool_calls"]
    tools = {attributes(s)["gen_ai.tool.call.id"]: s for s in children if s.name == "execute_tool calculate"}
    assert set(tools) == {"call-ok", "call-bad"}
    assert attributes(tools["call-ok"])["gen_ai.tool.name"] == "calculate"
    assert attributes(tools["call-ok"])["gen_ai.operation.name"] == "execute_tool"
    assert tools["call-ok"].status.code != Status.STATUS_CODE_ERROR
    assert tools["call-bad"].status.code == Status.STATUS_CODE_ERROR
    assert attributes(tools["call-bad"])["error.type"] == "tool_error"

    metrics = metrics_of(receiver.wait_for("/v1/metrics", lambda got: "gen_ai.client.token.usage" in metrics_of(got)))
    tokens = metrics["gen_ai.client.token.usage"][-1]
    assert tokens.unit == "{token}"
    by_type = {attributes(p)["gen_ai.token.type"]: p for p in tokens.histogram.data_points}
    assert by_type["input"].sum == 80 + 80 and by_type["output"].sum == 20  # both runs, two calls each
    assert attributes(by_type["input"])["gen_ai.request.model"] == "scripted-model"
    duration = metrics["gen_ai.client.operation.duration"][-1]
    assert duration.unit == "s" and sum(p.count for p in duration.histogram.data_points) == 4


def test_without_an_endpoint_nothing_of_opentelemetry_is_imported(tmp_path: Path) -> None:
    program = """
import asyncio, json, sys
import sidekick.cli, sidekick.server, sidekick.methods
before = sorted(m for m in sys.modules if m.startswith(("opentelemetry", "sqlite3")))
from sidekick.run_protocol import RunParams
from sidekick.runs import build_run
from sidekick.tools import build_registry
params = RunParams.model_validate({"task": "hi", "model": {"baseUrl": sys.argv[1], "model": "m", "apiKey": "k"}})
result = asyncio.run(build_run(params, build_registry(load_plugins=False)).execute())
after = sorted(m for m in sys.modules if m.startswith(("opentelemetry", "sqlite3")))
print(json.dumps({"text": result.text, "before": before, "after": after}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["SIDEKICK_USAGE_DB"] = str(tmp_path / "usage.db")
    with ScriptedOpenAIServer([{"content": "hello"}]) as server:
        done = subprocess.run([sys.executable, "-c", program, server.base_url], capture_output=True, text=True,
                              env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["text"] == "hello"
    assert seen["before"] == []  # serving pays for neither the store nor tracing before a run
    assert not [m for m in seen["after"] if m.startswith("opentelemetry")]
    assert "sqlite3" in seen["after"]  # the store is on: the run was recorded


def test_an_endpoint_without_the_extra_is_one_warning_and_no_tracing(monkeypatch: pytest.MonkeyPatch,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    import importlib.util

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("SIDEKICK_USAGE", "off")
    monkeypatch.setattr(usage, "_otel_warned", False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    params = RunParams.model_validate({"task": "x"})
    with caplog.at_level(logging.WARNING, "sidekick.usage"):
        assert usage.run_consumers(params, None) == []  # type: ignore[arg-type]
        assert usage.run_consumers(params, None) == []  # type: ignore[arg-type]
    assert len(caplog.records) == 1 and "eliza-sidekick[otel]" in caplog.text
