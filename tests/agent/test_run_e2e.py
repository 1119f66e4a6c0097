"""`sidekick/run` end to end: a real `sidekick --stdio` subprocess, the real openai client, real HTTP."""

from __future__ import annotations

import json
import time
import socket
from typing import Any, Iterator

import pytest

from sidekick.testing.scripted_server import ScriptedOpenAIServer, tool_results
from sidekick.testing.pages import PageServer
from tests.support.process import SidekickProcess

PAGE = b"""<html><head><title>Shop stats</title><style>.x{}</style></head><body><nav>Home</nav>
<h1>Quarterly report</h1><p>Units sold this quarter: 1234567</p><script>var units = 1;</script></body></html>"""


@pytest.fixture
def pages() -> Iterator[PageServer]:
    with PageServer({"/report": ("text/html; charset=utf-8", PAGE)}) as server:
        yield server


def run_params(server: ScriptedOpenAIServer, **extra: Any) -> dict[str, Any]:
    return {"task": "How much tax at 17.5% on the units sold in the report?",
            "model": {"baseUrl": server.base_url, "model": "scripted-model", "apiKey": "sk-test-secret-123"},
            **extra}


def last_tool_result(body: dict[str, Any]) -> str:
    return tool_results(body)[-1]


@pytest.mark.parametrize("stream", [False, True])
def test_fetch_then_calculate_then_answer(sidekick: SidekickProcess, pages: PageServer, stream: bool) -> None:
    def script(body: dict[str, Any]) -> dict[str, Any]:
        tool_messages = tool_results(body)
        if not tool_messages:
            assert {t["function"]["name"] for t in body["tools"]} >= {"calculate", "fetch_url", "web_search"}
            assert "parallel_tool_calls" not in body
            return {"tool_calls": [{"name": "fetch_url", "arguments": {"url": pages.url("/report")}}]}
        if len(tool_messages) == 1:
            page = tool_messages[0]
            assert "1234567" in page and "var units" not in page
            units = page.split("Units sold this quarter: ")[1].split()[0].strip('",')
            return {"tool_calls": [{"name": "calculate", "arguments": {"expression": f"{units} * 0.175"}}]}
        return {"content": f"The tax is {tool_messages[-1]}."}

    with ScriptedOpenAIServer(script) as server:
        sidekick.initialize()
        answer = sidekick.request(1, "sidekick/run", run_params(server, model={
            "baseUrl": server.base_url, "model": "scripted-model", "stream": stream}))
    result = answer["result"]
    assert not server.errors
    assert result["stopReason"] == "done" and "216049.225" in result["text"]
    assert result["toolsUsed"] == ["fetch_url", "calculate"]
    assert [s["ok"] for s in result["steps"]] == [True, True]
    assert result["usage"]["totalTokens"] == 45 and server.calls == 3
    assert [m["role"] for m in result["messages"]] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]


def test_host_tools_progress_and_a_ping_while_waiting_on_the_host(sidekick: SidekickProcess) -> None:
    script = [{"tool_calls": [{"name": "SEND_TWEET", "arguments": {"text": "hello"}}]},
              {"content": "Posted."}]
    with ScriptedOpenAIServer(script) as server:
        sidekick.initialize()
        sidekick.send({"jsonrpc": "2.0", "id": "run-1", "method": "sidekick/run", "params": run_params(
            server, hostTools=[{"name": "SEND_TWEET", "description": "Post a tweet",
                                "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}],
            _meta={"progressToken": "tok"})})
        host_call, before = sidekick.read_until(lambda m: m.get("method") == "host/callTool")
        assert host_call["params"] == {"name": "SEND_TWEET", "arguments": {"text": "hello"},
                                       "_meta": {"relatedRequestId": "run-1"}}
        assert sidekick.request(2, "ping")["result"] == {}
        sidekick.send({"jsonrpc": "2.0", "id": host_call["id"],
                       "result": {"content": [{"type": "text", "text": "tweet 42 posted"}], "isError": False}})
        answer, after = sidekick.read_until(lambda m: m.get("id") == "run-1")
    progress = [m["params"] for m in before + after if m.get("method") == "notifications/progress"]
    assert [p["progress"] for p in progress] == [1, 2, 3] and all(p["progressToken"] == "tok" for p in progress)
    assert "SEND_TWEET" in progress[0]["message"]
    result = answer["result"]
    assert result["text"] == "Posted." and result["steps"][0]["source"] == "host"
    assert tool_results(json.loads(json.dumps(server.requests[1]))) == ["tweet 42 posted"]


def test_cancel_abandons_the_model_call_and_sends_no_answer(sidekick: SidekickProcess) -> None:
    with ScriptedOpenAIServer([{"hang": 30}]) as server:
        sidekick.initialize()
        sidekick.send({"jsonrpc": "2.0", "id": 7, "method": "sidekick/run", "params": run_params(server)})
        deadline = time.monotonic() + 30  # the first model call waits for the openai import
        while not server.calls and time.monotonic() < deadline:
            sidekick.request("probe", "ping")
        assert server.calls == 1
        sidekick.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}})
        sidekick.send({"jsonrpc": "2.0", "id": 8, "method": "ping"})
        answer, seen = sidekick.read_until(lambda m: m.get("id") == 8 and "result" in m)
        assert answer["result"] == {}
        assert sidekick.close() == 0
    rest = []
    while not sidekick.lines.empty():
        line = sidekick.lines.get()
        if line is not None:
            rest.append(json.loads(line))
    assert not [m for m in seen + rest if m.get("id") == 7]


@pytest.mark.parametrize("extra, script, reason", [
    ({"maxSteps": 2}, [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "1+1"}}]}] * 2,
     "max_steps"),
    ({"tokenBudget": 20}, [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "1+1"}}],
                            "usage": {"prompt_tokens": 50}}], "token_budget"),
    ({"timeoutMs": 300}, [{"hang": 10}], "timeout"),
])
def test_each_limit_has_its_stop_reason(sidekick: SidekickProcess, extra: dict[str, Any], script: list[Any],
                                        reason: str) -> None:
    with ScriptedOpenAIServer(script) as server:
        result = sidekick.request(1, "sidekick/run", run_params(server, **extra))["result"]
    assert result["stopReason"] == reason and result["text"]


def test_unreachable_model_is_a_clear_error_without_the_key(sidekick: SidekickProcess) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = sidekick.request(1, "sidekick/run", {
        "task": "x", "model": {"baseUrl": f"http://127.0.0.1:{port}/v1", "apiKey": "sk-very-secret-key",
                               "maxRetries": 0}})["result"]
    assert result["stopReason"] == "error" and result["error"]["kind"] == "connection"
    assert "Could not connect" in result["text"] and "sk-very-secret-key" not in json.dumps(result)
    assert sidekick.request(2, "ping")["result"] == {}


def test_bad_run_params_are_invalid_params(sidekick: SidekickProcess) -> None:
    assert sidekick.request(1, "sidekick/run", {"task": ""})["error"]["code"] == -32602
    assert sidekick.request(2, "sidekick/run", {"task": "x", "maxSteps": "many"})["error"]["code"] == -32602
    unknown = sidekick.request(3, "sidekick/run", {"task": "x", "tools": ["rm_rf"]})["error"]
    assert unknown["code"] == -32602 and "rm_rf" in unknown["message"]


def test_conversation_continues_across_runs(sidekick: SidekickProcess) -> None:
    script = [{"content": "Nice to meet you, Ada."}, {"content": "Your name is Ada."}]
    with ScriptedOpenAIServer(script) as server:
        first = sidekick.request(1, "sidekick/run", run_params(server, task="I am Ada."))["result"]
        second = sidekick.request(2, "sidekick/run", run_params(server, task="Who am I?",
                                                                messages=first["messages"]))["result"]
    assert second["text"] == "Your name is Ada."
    sent = server.requests[1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["content"] == "I am Ada."


def test_host_tools_with_bad_or_clashing_names_are_invalid_params(sidekick: SidekickProcess) -> None:
    def tool(name: str) -> dict[str, Any]:
        return {"name": name, "description": "x", "inputSchema": {"type": "object"}}

    bad = sidekick.request(1, "sidekick/run", {"task": "x", "hostTools": [tool("send message")]})["error"]
    assert bad["code"] == -32602 and "send message" in bad["message"]
    clash = sidekick.request(2, "sidekick/run", {"task": "x", "hostTools": [tool("calculate"), tool("A"),
                                                                            tool("A")]})["error"]
    assert clash["code"] == -32602 and "A, calculate clash" in clash["message"]
