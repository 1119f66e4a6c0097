"""A tiny HTTP server on 127.0.0.1 that answers like llama.cpp, vLLM, Ollama or LM Studio, for the adapter's tests.

Routes map "METHOD /path" to a reply: a (status, JSON) pair, a `Stream` of SSE chunks, `HANG` (holds the
request until the server closes), or a function of the request body returning one of those. Every request
is recorded with its headers. Unknown routes answer 404, as those servers do for each other's paths.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, AsyncIterator, Callable, Union

import pytest

from sidekick.agent import context
from sidekick.agent.openai_model import close_clients

HANG = "hang"


@pytest.fixture
async def fresh_adapter() -> AsyncIterator[None]:
    """Nothing discovered or learned before the test; the test's pooled clients closed after it."""
    context.forget()
    yield
    context.forget()
    await close_clients()


@dataclass
class Stream:
    """SSE chunks, sent `gap_s` apart (the server waits on its stop event, so closing ends it)."""

    chunks: list[dict[str, Any]]
    gap_s: float = 0.0


@dataclass
class Trickle:
    """A JSON body sent a few bytes every `gap_s`: never a long silence, but slow to finish."""

    payload: Any
    gap_s: float
    piece: int = 8


Reply = Union[tuple[int, Any], Stream, Trickle, str, Callable[[Any], Any]]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Endpoint:
    """`with Endpoint({"GET /props": (200, {...})}) as ep:`; `ep.base_url` ends in /v1."""

    routes: dict[str, Any]
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.root + "/v1"

    def paths(self, method: str | None = None) -> list[str]:
        return [s.path for s in self.seen if method is None or s.method == method]

    def __enter__(self) -> Endpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                endpoint.seen.append(Seen(method, self.path, dict(self.headers), body))
                reply = endpoint.routes.get(f"{method} {self.path}")
                if callable(reply):
                    reply = reply(body)
                if reply is None:
                    self._json(404, {"error": {"message": "not found", "type": "not_found_error"}})
                elif reply == HANG:
                    endpoint._stop.wait()
                    self.close_connection = True
                elif isinstance(reply, Stream):
                    self._stream(reply)
                elif isinstance(reply, Trickle):
                    self._trickle(reply)
                else:
                    status, payload = reply
                    headers = payload.get("_headers", {}) if isinstance(payload, dict) else {}
                    if headers:
                        payload = {k: v for k, v in payload.items() if k != "_headers"}
                    self._json(status, payload, headers)

            def _stream(self, stream: Stream) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for chunk in stream.chunks:
                        if stream.gap_s and endpoint._stop.wait(stream.gap_s):
                            return
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                except OSError:  # the client gave up on the stream
                    pass
                self.close_connection = True

            def _trickle(self, trickle: Trickle) -> None:
                data = json.dumps(trickle.payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    for start in range(0, len(data), trickle.piece):
                        if endpoint._stop.wait(trickle.gap_s):
                            return
                        self.wfile.write(data[start:start + trickle.piece])
                        self.wfile.flush()
                except OSError:
                    pass
                self.close_connection = True

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        return Handler


def completion(content: str = "ok", finish_reason: str = "stop", tool_calls: list[Any] | None = None) -> dict[str, Any]:
    """A chat.completion body."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"id": "c1", "object": "chat.completion", "created": int(time.time()), "model": "m",
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}


def chunks(parts: list[str], finish_reason: str = "stop") -> list[dict[str, Any]]:
    """chat.completion.chunk bodies streaming `parts`, then the finish reason, then usage."""
    base = {"id": "c1", "object": "chat.completion.chunk", "created": int(time.time()), "model": "m"}
    out = [{**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in parts]
    out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason}]})
    out.append({**base, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}})
    return out


def llama_overflow(n_prompt: int, n_ctx: int) -> tuple[int, dict[str, Any]]:
    """llama.cpp's answer to a prompt past its slot's window (server 2025+)."""
    return 400, {"error": {"code": 400, "type": "exceed_context_size_error", "n_prompt_tokens": n_prompt,
                           "n_ctx": n_ctx, "message": f"request ({n_prompt} tokens) exceeds the available "
                                                      f"context size ({n_ctx} tokens), try increasing it"}}


def sequence(*replies: Any) -> Callable[[Any], Any]:
    """A route that answers with each reply in turn, then repeats the last."""
    pending = list(replies)

    def reply(body: Any) -> Any:
        return pending.pop(0) if len(pending) > 1 else pending[0]

    return reply
