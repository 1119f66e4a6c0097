"""The `langgraph` framework (LangChain's create_agent + ChatOpenAI) against the scripted OpenAI-compatible
server: real HTTP, the run's toolbox as its tools, the sidekick's limits, errors, hooks and result shape."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from sidekick.run_protocol import RunParams
from sidekick.hooks import RunHooks
from sidekick.runs import build_run
from sidekick.testing.scripted_server import ScriptedOpenAIServer, tool_results
from sidekick.tools import build_registry
from tests.frameworks.plugin import require_langgraph

KEY = "sk-langgraph-secret-77"
NOTE = {"name": "SAVE_NOTE", "description": "Save a note.",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}


@pytest.fixture(autouse=True)
def _extra() -> None:
    require_langgraph()


class Seen(RunHooks):
    def __init__(self) -> None:
        self.events: list[Any] = []

    def on_model_call_start(self, event: Any) -> None:
        self.events.append(event)

    on_model_call_end = on_tool_call_start = on_tool_call_end = on_run_end = on_model_call_start


async def run(server: ScriptedOpenAIServer, hooks: list[Any] = (), host: Any = None, **params: Any) -> Any:
    async def saved(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return {"content": [{"type": "text", "text": "saved"}], "isError": False}

    run_params = RunParams.model_validate({"task": "do it", "framework": "langgraph", "tools": ["calculate"],
                                           "model": {"baseUrl": server.base_url, "model": "m", "apiKey": KEY,
                                                     "maxRetries": 0}, **params})
    built = build_run(run_params, build_registry(load_plugins=False), call_host=host or saved, hooks=hooks)
    return await built.execute()


def calculate(expression: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": "calculate", "arguments": {"expression": expression}}]}


async def test_tools_results_and_hooks_through_the_graph() -> None:
    def script(body: dict[str, Any]) -> dict[str, Any]:
        results = tool_results(body)
        if not results:
            assert body["max_tokens"] == 64 and "max_completion_tokens" not in body  # as the openai adapter
            assert "parallel_tool_calls" not in body
            assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
            return {"tool_calls": [{"name": "calculate", "arguments": {"expression": 7}},  # not a string
                                   {"name": "SAVE_NOTE", "arguments": {"text": "hi"}}]}
        if len(results) == 2:
            assert results[0].startswith("Invalid arguments for calculate: expression:"), results
            return calculate("6*7")
        return {"content": f"It is {results[-1]}."}

    seen = Seen()
    with ScriptedOpenAIServer(script) as server:
        result = await run(server, [seen], hostTools=[NOTE], model={
            "baseUrl": server.base_url, "model": "m", "apiKey": KEY, "maxTokens": 64},
            messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}])
    assert not server.errors and result.stop_reason == "done" and result.text == "It is 42."
    assert [(s.tool, s.ok, s.source) for s in result.steps] == [
        ("calculate", False, "builtin"), ("SAVE_NOTE", True, "host"), ("calculate", True, "builtin")]
    assert result.model_turns == 3 and result.usage.total_tokens == 45
    assert [m["role"] for m in result.messages] == ["user", "assistant", "tool", "tool", "assistant", "tool",
                                                    "assistant"]
    assert result.messages[0] == {"role": "user", "content": "do it"}
    kinds = [type(e).__name__ for e in seen.events]
    assert kinds[:2] == ["ModelCallStarted", "ModelCallEnded"] and kinds[-1] == "RunEnded"
    ended = [e for e in seen.events if type(e).__name__ == "ModelCallEnded"]
    assert ended[0].tool_calls == ("calculate", "SAVE_NOTE") and ended[0].usage.total_tokens == 15
    tools = [e for e in seen.events if type(e).__name__ == "ToolCallEnded"]
    assert {(e.name, e.source, e.ok, e.error) for e in tools} == {
        ("calculate", "builtin", False, "tool_error"), ("SAVE_NOTE", "host", True, None),
        ("calculate", "builtin", True, None)}


async def test_max_steps_runs_the_last_turns_calls_then_stops() -> None:
    with ScriptedOpenAIServer([calculate("1+1")] * 2) as server:
        result = await run(server, maxSteps=2)
    assert result.stop_reason == "max_steps" and [s.ok for s in result.steps] == [True, True]
    assert server.calls == 2 and "step limit" in result.text


async def test_a_token_budget_used_up_leaves_the_turns_calls_unrun_but_answered() -> None:
    with ScriptedOpenAIServer([{**calculate("1+1"), "usage": {"prompt_tokens": 50}}]) as server:
        result = await run(server, tokenBudget=20)
    assert result.stop_reason == "token_budget" and result.steps == []
    assert result.messages[-1]["role"] == "tool" and "not run" in result.messages[-1]["content"]
    assert result.messages[-1]["tool_call_id"] == result.messages[-2]["tool_calls"][0]["id"]


async def test_timeout_and_endpoint_errors_are_the_sidekicks_own() -> None:
    with ScriptedOpenAIServer([{"hang": 30}]) as server:
        timed_out = await run(server, timeoutMs=300)
    assert timed_out.stop_reason == "timeout" and "ran out of time" in timed_out.text
    with ScriptedOpenAIServer([{"status": 401, "error": f"bad key {KEY}"}]) as server:
        refused = await run(server)
    assert refused.stop_reason == "error" and refused.error.kind == "auth" and refused.error.code == -32010
    assert KEY not in json.dumps(refused.model_dump(mode="json"))


async def test_cancelling_the_run_cancels_the_graph() -> None:
    in_flight = threading.Event()

    def hang(body: dict[str, Any]) -> dict[str, Any]:
        in_flight.set()
        return {"hang": 30}

    with ScriptedOpenAIServer(hang) as server:
        seen = Seen()
        task = asyncio.ensure_future(run(server, [seen]))
        assert await asyncio.to_thread(in_flight.wait, 20)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert type(seen.events[-1]).__name__ == "RunEnded" and seen.events[-1].result is None
