"""A misbehaving model endpoint ends the run with a clear stopReason or error, and the sidekick keeps serving.

One `sidekick --stdio` process serves every case in turn, so "keeps serving" is checked after each fault
by a ping on the same process.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from sidekick.testing.scripted_server import ScriptedOpenAIServer
from tests.reliability.support import strict_process
from tests.support.process import SidekickProcess

KEY = "sk-fault-KEY-3141592653"
_ids = iter(range(1, 10**6))


@pytest.fixture(scope="module")
def sidekick() -> Iterator[SidekickProcess]:
    process = strict_process("--log-level", "debug")
    process.initialize()
    yield process
    assert process.close() == 0
    assert KEY.encode() not in b"".join(process.stderr_lines)


def run(sidekick: SidekickProcess, server: ScriptedOpenAIServer, **model: Any) -> dict[str, Any]:
    request_id = next(_ids)
    answer = sidekick.request(request_id, "sidekick/run", {
        "task": "What is 2+2?", "tools": ["calculate"],
        "model": {"baseUrl": server.base_url, "model": "scripted", "apiKey": KEY, **model}})
    assert KEY not in json.dumps(answer)
    assert sidekick.request(f"ping-{request_id}", "ping")["result"] == {}  # still serving
    return answer["result"]


RETRY_NOW = {"Retry-After": "0"}


@pytest.mark.parametrize("replies, model, kind, calls", [
    ([{"status": 500, "headers": RETRY_NOW}] * 3, {"maxRetries": 2}, "server", 3),
    ([{"status": 500}] * 2, {"maxRetries": 1}, "server", 2),  # the adapter's own backoff, no header
    ([{"status": 503, "error": "overloaded"}], {"maxRetries": 0}, "server", 1),
    ([{"status": 429, "headers": RETRY_NOW}] * 2, {"maxRetries": 1}, "rate_limit", 2),
    ([{"status": 429}], {"maxRetries": 0}, "rate_limit", 1),
    ([{"hang": 30}], {"maxRetries": 0, "requestTimeoutMs": 2000}, "timeout", 1),
    ([{"hang": 30}] * 2, {"maxRetries": 1, "requestTimeoutMs": 2000}, "timeout", 1),  # never paid for twice
    ([{"close": True}], {"maxRetries": 0}, "connection", 1),
    ([{"raw": "this is not json"}], {"maxRetries": 0}, "bad_response", 1),
    ([{"no_choices": True}], {"maxRetries": 0}, "bad_response", 1),
    ([{"no_choices": True}], {"maxRetries": 0, "stream": True}, "bad_response", 1),
    ([{"raw": "data: {not json}\n\n"}], {"maxRetries": 0, "stream": True}, "bad_response", 1),
    ([{"status": 401, "error": f"Incorrect API key provided: {KEY}"}], {"maxRetries": 2}, "auth", 1),
])
def test_each_endpoint_fault_is_a_clear_error_and_the_process_serves_on(
        sidekick: SidekickProcess, replies: list[dict[str, Any]], model: dict[str, Any], kind: str,
        calls: int) -> None:
    with ScriptedOpenAIServer(replies) as server:
        result = run(sidekick, server, **model)
        assert server.calls == calls and not server.errors
    assert result["stopReason"] == "error", result
    assert result["error"]["kind"] == kind and result["error"]["code"] == -32010, result["error"]
    assert server.base_url in result["text"] and result["text"].startswith("The run failed")


@pytest.mark.parametrize("fault", [{"status": 500, "headers": RETRY_NOW}, {"status": 429, "headers": RETRY_NOW},
                                   {"close": True}])
def test_a_retry_recovers_from_one_fault(sidekick: SidekickProcess, fault: dict[str, Any]) -> None:
    with ScriptedOpenAIServer([fault, {"content": "4"}]) as server:
        result = run(sidekick, server, maxRetries=2, requestTimeoutMs=5000)
        assert server.calls == 2
    assert result["stopReason"] == "done" and result["text"] == "4"


def test_a_fault_after_a_tool_step_keeps_the_steps_done_so_far(sidekick: SidekickProcess) -> None:
    replies = [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "2+2"}}]},
               {"status": 500, "headers": RETRY_NOW}]
    with ScriptedOpenAIServer(replies) as server:
        result = run(sidekick, server, maxRetries=0)
    assert result["stopReason"] == "error" and result["error"]["kind"] == "server"
    assert [s["tool"] for s in result["steps"]] == ["calculate"] and result["steps"][0]["ok"]
    roles = [m["role"] for m in result["messages"]]
    assert roles == ["user", "assistant", "tool"]  # every tool call has its result: the transcript stays valid


@pytest.mark.parametrize("reply", [
    {"content": "The answer is four, and here is a long explanation of why.", "stream_cut": True},
    {"tool_calls": [{"name": "calculate", "arguments": {"expression": "2 + 2 + 2 + 2 + 2 + 2"}}],
     "stream_cut": True},
])
def test_a_stream_cut_before_its_end_is_an_error_not_a_truncated_answer(sidekick: SidekickProcess,
                                                                        reply: dict[str, Any]) -> None:
    with ScriptedOpenAIServer([reply, {"content": "unused"}]) as server:
        result = run(sidekick, server, maxRetries=0, stream=True)
    assert result["stopReason"] == "error" and result["error"]["kind"] == "bad_response", result
    assert result["steps"] == []


@pytest.mark.parametrize("raw, stream", [
    ('{"id": "c", "choices": "nope"}', False),
    ('{"id": "c", "choices": [null]}', False),
    ('{"id": "c", "choices": [{"index": 0, "message": null}]}', False),
    ('{"id": "c", "choices": [{"index": 0, "message": {"role": "assistant", "content": 5}}]}', False),
    ('data: {"id": "c", "choices": "nope"}\n\ndata: [DONE]\n\n', True),
    ('data: []\n\ndata: [DONE]\n\n', True),
])
def test_a_completion_of_the_wrong_shape_is_a_bad_response(sidekick: SidekickProcess, raw: str,
                                                           stream: bool) -> None:
    request_id = next(_ids)
    with ScriptedOpenAIServer([{"raw": raw}]) as server:
        answer = sidekick.request(request_id, "sidekick/run", {
            "task": "What is 2+2?", "tools": ["calculate"],
            "model": {"baseUrl": server.base_url, "model": "scripted", "apiKey": KEY, "maxRetries": 0,
                      "stream": stream}})
    assert sidekick.request(f"ping-{request_id}", "ping")["result"] == {}
    assert "result" in answer, answer  # a run result with its stopReason, not a protocol error
    result = answer["result"]
    assert result["stopReason"] == "error" and result["error"]["kind"] == "bad_response", result["error"]
    assert "Error:" not in result["text"] and "object has no attribute" not in result["text"]


def nested(depth: int) -> str:
    return '{"q": ' + '{"a": ' * depth + "1" + "}" * depth + "}"


@pytest.mark.parametrize("depth", [400, 900])
def test_deeply_nested_tool_arguments_cost_their_call_not_the_run(sidekick: SidekickProcess, depth: int) -> None:
    request_id = next(_ids)
    host_tool = {"name": "LOOKUP", "description": "Look up", "inputSchema": {"type": "object"}}
    replies = [{"tool_calls": [{"name": "calculate", "arguments": '{"expression": ' + "[" * depth + "]" * depth + "}"},
                               {"name": "LOOKUP", "arguments": nested(depth)}]},
               {"content": "answered anyway"}]
    with ScriptedOpenAIServer(replies) as server:
        sidekick.send({"jsonrpc": "2.0", "id": request_id, "method": "sidekick/run", "params": {
            "task": "go", "tools": ["calculate"], "hostTools": [host_tool],
            "model": {"baseUrl": server.base_url, "model": "scripted", "apiKey": KEY}}})
        answer, before = sidekick.read_until(lambda m: m.get("id") == request_id)
    assert not any(m.get("method") == "host/callTool" for m in before)
    assert "result" in answer, answer  # not -32603: the host keeps the result and the transcript
    result = answer["result"]
    assert result["stopReason"] == "done" and result["text"] == "answered anyway"
    assert [s["tool"] for s in result["steps"]] == ["calculate", "LOOKUP"]
    for step in result["steps"]:
        assert not step["ok"] and "nested deeper than 64 levels" in step["preview"]
        assert "(cut: nested deeper than 64 levels)" in json.dumps(step["arguments"])
    assert sidekick.request(f"ping-{request_id}", "ping")["result"] == {}
