"""What a hostile model endpoint cannot do: keep a request alive past `requestTimeoutMs` by trickling
its answer, or grow our memory by streaming without end. The endpoint is a raw socket server on
loopback, so it can misbehave below HTTP's politeness (no line end, no body end, one byte at a time)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from sidekick.agent import openai_model, response_cap
from sidekick.agent.model_settings import resolve_settings
from sidekick.agent.openai_model import OpenAIChatModel
from sidekick.run_protocol import ModelSettings
from sidekick.errors import ModelError
from tests.agent.endpoints import fresh_adapter  # noqa: F401 (fixture)
from tests.reliability.support import strict_process

Send = Callable[[bytes], None]
Behaviour = Callable[[Send, threading.Event], None]
SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
ASK = [{"role": "user", "content": "go"}]


class HostileEndpoint:
    """Answers POST /v1/chat/completions with `behaviour(send, stop)`, anything else with 404."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.chat_requests = 0
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/v1"

    def __enter__(self) -> HostileEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        self.listener.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(65536)
                if not data:
                    return
                head += data
            if not head.startswith(b"POST /v1/chat/completions "):
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            self.chat_requests += 1
            try:
                self.behaviour(conn.sendall, self.stop)
            except OSError:  # the client gave up, as it should
                pass


def chunk(**delta: Any) -> bytes:
    body = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    return f"data: {json.dumps(body)}\n\n".encode()


def trickle_body(send: Send, stop: threading.Event) -> None:
    send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
    while not stop.wait(0.5):
        send(b" ")


def trickle_sse(send: Send, stop: threading.Event) -> None:
    send(SSE_HEAD)
    for byte in iter(lambda: chunk(content="a"), None):
        for i in range(len(byte)):
            if stop.wait(0.5):
                return
            send(byte[i:i + 1])


def sse_forever(send: Send, stop: threading.Event) -> None:
    send(SSE_HEAD)
    while not stop.wait(0.05):
        send(chunk(content="tok "))


def flood(event: bytes) -> Behaviour:
    block = event * max(1, 65536 // len(event))

    def behaviour(send: Send, stop: threading.Event) -> None:
        send(SSE_HEAD)
        while not stop.is_set():
            send(block)

    return behaviour


def endless_line(send: Send, stop: threading.Event) -> None:
    send(SSE_HEAD + b"data: ")
    while not stop.is_set():
        send(b"a" * 65536)


def endless_body(send: Send, stop: threading.Event) -> None:
    send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
    while not stop.is_set():
        send(piece)


def model(endpoint: HostileEndpoint, **settings: Any) -> OpenAIChatModel:
    return OpenAIChatModel(resolve_settings(ModelSettings(base_url=endpoint.base_url, model="m", api_key="sk-k",
                                                          **settings)))


pytestmark = pytest.mark.usefixtures("fresh_adapter")


# -- requestTimeoutMs bounds the whole request ----------------------------------------------------
@pytest.mark.parametrize("behaviour, stream", [(trickle_body, False), (trickle_sse, True), (sse_forever, True)])
async def test_a_trickled_or_endless_answer_ends_at_the_request_timeout(behaviour: Behaviour, stream: bool) -> None:
    with HostileEndpoint(behaviour) as endpoint:
        begun = time.monotonic()
        with pytest.raises(ModelError) as caught:
            await model(endpoint, stream=stream, max_retries=2, request_timeout_ms=1500).complete(ASK, [], None)
        elapsed = time.monotonic() - begun
    assert caught.value.kind == "timeout" and endpoint.chat_requests == 1  # a timed-out generation: no retry
    assert elapsed < 20  # the answer would never have ended: the hang was not waited out


def test_a_run_against_a_trickling_endpoint_stops_at_the_request_timeout() -> None:
    with HostileEndpoint(trickle_sse) as endpoint:
        process = strict_process()
        try:
            process.initialize()
            answer = process.request(1, "sidekick/run", {"task": "go", "model": {
                "baseUrl": endpoint.base_url, "model": "m", "apiKey": "sk-k", "stream": True,
                "requestTimeoutMs": 1500}})
            assert process.request("after", "ping")["result"] == {}
        finally:
            assert process.close() == 0
    result = answer["result"]
    assert result["stopReason"] == "error" and result["error"]["kind"] == "timeout", result
    assert result["durationMs"] < 20_000


# -- a turn's output is capped in memory ----------------------------------------------------------
@pytest.mark.parametrize("event", [
    chunk(content="x" * 65536),
    chunk(tool_calls=[{"index": 0, "id": "c1", "function": {"name": "calculate", "arguments": "1" * 65536}}]),
])
async def test_a_stream_without_end_hits_the_turn_cap(event: bytes) -> None:
    with HostileEndpoint(flood(event)) as endpoint:
        with pytest.raises(ModelError) as caught:
            await model(endpoint, stream=True, request_timeout_ms=60_000).complete(ASK, [], None)
    assert caught.value.kind == "output_too_large" and "2,000,000 characters" in caught.value.message


async def test_tiny_deltas_and_countless_calls_count_against_the_cap_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_model, "MAX_TURN_CHARS", 20_000)
    calls = (chunk(tool_calls=[{"index": i, "function": {"name": "", "arguments": ""}}]) for i in range(10**6))
    for behaviour in (flood(chunk(content="x")), flood(b"".join(next(calls) for _ in range(200)))):
        with HostileEndpoint(behaviour) as endpoint:
            with pytest.raises(ModelError) as caught:
                await model(endpoint, stream=True, request_timeout_ms=60_000).complete(ASK, [], None)
        assert caught.value.kind == "output_too_large"


@pytest.mark.parametrize("behaviour, stream", [(endless_line, True), (endless_body, False)])
async def test_a_body_or_line_without_end_hits_the_byte_cap(monkeypatch: pytest.MonkeyPatch, behaviour: Behaviour,
                                                            stream: bool) -> None:
    monkeypatch.setattr(response_cap, "MAX_RESPONSE_BYTES", 4 * 1024 * 1024)
    with HostileEndpoint(behaviour) as endpoint:
        with pytest.raises(ModelError) as caught:
            await model(endpoint, stream=stream, max_retries=2, request_timeout_ms=60_000).complete(ASK, [], None)
    assert caught.value.kind == "output_too_large" and "4,194,304 bytes" in caught.value.message
    assert endpoint.chat_requests == 1


FLOOD_CHILD = """
import asyncio, json, resource, sys
from sidekick.agent.model_settings import resolve_settings
from sidekick.agent.openai_model import OpenAIChatModel
from sidekick.run_protocol import ModelSettings
from sidekick.errors import ModelError
settings = ModelSettings(base_url=sys.argv[1], model="m", api_key="k", stream=True, request_timeout_ms=30000)
model = OpenAIChatModel(resolve_settings(settings))
import openai
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    asyncio.run(model.complete([{"role": "user", "content": "go"}], [], None))
    kind = None
except ModelError as exc:
    kind = exc.kind
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"kind": kind, "grown_mb": grown / 1024}))
"""


def test_a_fast_endless_stream_costs_bounded_memory() -> None:
    """The default caps, measured in a child process (before them: +240 MB in 8 s, growing until the timeout)."""
    with HostileEndpoint(flood(chunk(content="x" * 262_144))) as endpoint:
        child = subprocess.run([sys.executable, "-c", FLOOD_CHILD, endpoint.base_url], capture_output=True,
                               text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert child.returncode == 0, child.stderr
    seen = json.loads(child.stdout)
    assert seen["kind"] == "output_too_large" and seen["grown_mb"] < 100, seen
