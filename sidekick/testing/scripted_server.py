"""A scripted OpenAI-compatible HTTP server on 127.0.0.1, for tests, benchmarks and `sidekick eval`.

It speaks `POST /v1/chat/completions` (plain JSON, or SSE when the request says `stream: true`) and
`GET /v1/models`. Each completion is decided by a script: a list of replies used in order, or a function
of the request body (so a reply can depend on the tool results the model was shown).

A reply is a dict:
  {"content": "text"}                                   a final answer
  {"tool_calls": [{"name": ..., "arguments": {...}|"raw text", "id"?: ...}], "content"?: ...}
  {"usage": {"prompt_tokens": .., "completion_tokens": ..}}   (merged into any reply)
  {"finish_reason": "length"}                           (overrides "stop" / "tool_calls")
Faults: {"status": 500, "error": "msg", "headers": {...}}, {"status": 400, "body": {...}} (that exact JSON
body, e.g. llama.cpp's context overflow), {"hang": seconds}, {"raw": "not json"},
{"close": True} (drop the connection), {"no_choices": True}, {"stream_cut": True} (SSE stops early).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Union

Reply = dict[str, Any]
Script = Union[list[Reply], Callable[[dict[str, Any]], Reply]]


def tool_results(body: dict[str, Any]) -> list[str]:
    """The tool results a request shows the model, oldest first."""
    return [m["content"] for m in body.get("messages") or [] if m.get("role") == "tool"]


class ScriptExhausted(AssertionError):
    """The model was called more often than the script allows."""


def completion(reply: Reply, model: str, index: int) -> dict[str, Any]:
    """The chat.completion JSON object for one reply."""
    calls = [{"id": c.get("id", f"call_{index}_{i}"), "type": "function",
              "function": {"name": c["name"], "arguments": c["arguments"] if isinstance(c.get("arguments"), str)
                           or c.get("arguments") is None else json.dumps(c["arguments"])}}
             for i, c in enumerate(reply.get("tool_calls") or [])]
    message: dict[str, Any] = {"role": "assistant", "content": reply.get("content")}
    if calls:
        message["tool_calls"] = calls
    usage = {"prompt_tokens": 10, "completion_tokens": 5, **reply.get("usage", {})}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return {"id": f"chatcmpl-{index}", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [] if reply.get("no_choices") else [
                {"index": 0, "message": message,
                 "finish_reason": reply.get("finish_reason") or ("tool_calls" if calls else "stop")}],
            "usage": usage}


def stream_chunks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Split a completion into SSE chunks the way OpenAI streams them."""
    base = {"id": body["id"], "object": "chat.completion.chunk", "created": body["created"], "model": body["model"]}
    if not body["choices"]:
        return [{**base, "choices": []}]
    message = body["choices"][0]["message"]
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}]
    content = message.get("content") or ""
    for start in range(0, len(content), 8):
        chunks.append({**base, "choices": [{"index": 0, "delta": {"content": content[start:start + 8]},
                                            "finish_reason": None}]})
    for i, call in enumerate(message.get("tool_calls") or []):
        args = call["function"]["arguments"] or ""
        head = {"index": i, "id": call["id"], "type": "function",
                "function": {"name": call["function"]["name"], "arguments": args[: len(args) // 2]}}
        tail = {"index": i, "function": {"arguments": args[len(args) // 2:]}}
        for part in (head, tail):
            chunks.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [part]}, "finish_reason": None}]})
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": body["choices"][0]["finish_reason"]}]})
    chunks.append({**base, "choices": [], "usage": body["usage"]})
    return chunks


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the default backlog of 5 drops connections when 50 runs start at once, 256 at 500


class ScriptedOpenAIServer:
    """Start with `with ScriptedOpenAIServer(script) as server:`; point clients at `server.base_url`."""

    def __init__(self, script: Script, latency_s: float = 0.0, model: str = "scripted-model") -> None:
        self.script = script
        self.latency_s = latency_s
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._index = 0
        self._stop = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def calls(self) -> int:
        return self._index

    def remaining(self) -> int:
        """Replies not yet used (list scripts only)."""
        return len(self.script) - self._index if isinstance(self.script, list) else 0

    def __enter__(self) -> ScriptedOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def next_reply(self, body: dict[str, Any]) -> tuple[Reply, int]:
        with self._lock:
            index = self._index
            self._index += 1
            self.requests.append(body)
        if callable(self.script):
            return self.script(body), index
        if index >= len(self.script):
            message = f"scripted model called {index + 1} times, but the script has {len(self.script)} replies"
            self.errors.append(message)
            raise ScriptExhausted(message)
        return self.script[index], index

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send_json(200, {"object": "list", "data": [
                        {"id": server.model, "object": "model", "created": 0, "owned_by": "scripted"}]})
                else:
                    self._send_json(404, {"error": {"message": "not found", "type": "not_found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send_json(404, {"error": {"message": "not found"}})
                    return
                try:
                    reply, index = server.next_reply(body)
                except Exception as exc:
                    self._send_json(500, {"error": {"message": str(exc), "type": "script_error"}})
                    return
                if server.latency_s:
                    server._stop.wait(server.latency_s)
                self._answer(reply, index, body)

            def _answer(self, reply: Reply, index: int, body: dict[str, Any]) -> None:
                if "hang" in reply:
                    server._stop.wait(float(reply["hang"]))
                    self.close_connection = True
                    return
                if reply.get("close"):
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if "status" in reply:
                    error = reply.get("body") or {"error": {"message": reply.get("error", "scripted error"),
                                                            "type": "scripted"}}
                    self._send_json(reply["status"], error, reply.get("headers"))
                    return
                if "raw" in reply:
                    data = reply["raw"].encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                payload = completion(reply, body.get("model", server.model), index)
                if body.get("stream"):
                    self._stream(payload, cut=bool(reply.get("stream_cut")))
                else:
                    self._send_json(200, payload)

            def _stream(self, payload: dict[str, Any], cut: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                chunks = stream_chunks(payload)
                if cut:
                    chunks = chunks[: max(1, len(chunks) // 2)]
                for chunk in chunks:
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                if not cut:
                    self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        return Handler
