"""Host tools under 2026-07-28: `sidekick/run` asks for them with input_required results and goes on when the
host retries with inputResponses (driven here through the official Python SDK's session), or refuses at once."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest
from mcp import MCPError
from mcp.client import advertise

from sidekick.mcp_era import SIDEKICK_EXTENSION
from sidekick.testing.scripted_server import ScriptedOpenAIServer, tool_results
from tests.mcp_eras.support import Recorder, connect, send, server, wait_for

LOOKUP = {"name": "lookup", "description": "Look a thing up in the host's notes.",
          "inputSchema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}


def model_env(model: ScriptedOpenAIServer) -> dict[str, str]:
    return {"SIDEKICK_BASE_URL": model.base_url, "SIDEKICK_MODEL": "scripted-model", "SIDEKICK_API_KEY": "sk-test"}


def host_answer(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": False}


async def test_a_host_tool_is_asked_for_with_input_required_and_the_retry_goes_on() -> None:
    def script(body: dict[str, Any]) -> dict[str, Any]:
        results = tool_results(body)
        if not results:
            return {"tool_calls": [{"name": "lookup", "arguments": {"q": "the answer"}}]}
        return {"content": f"Found: {results[-1]}."}

    progress: list[tuple[str, float]] = []

    def on_progress(round_name: str) -> Any:
        async def report(value: float, total: float | None, message: str | None) -> None:
            progress.append((round_name, value))
        return report

    with ScriptedOpenAIServer(script) as model:
        recorder = Recorder(server(model_env(model)))
        async with connect("2026-07-28", recorder=recorder, extensions=[advertise(SIDEKICK_EXTENSION)]) as client:
            run = {"task": "What does the host know?", "hostTools": [LOOKUP]}
            first = await send(client, "sidekick/run", on_progress("first"), **run)
            assert first["resultType"] == "input_required"
            assert first["inputRequests"] == {"host-1": {"method": "host/callTool", "params": {
                "name": "lookup", "arguments": {"q": "the answer"}}}}
            state = first["requestState"]
            done = await send(client, "sidekick/run", on_progress("retry"), **run,
                              inputResponses={"host-1": host_answer("42")}, requestState=state)
            with pytest.raises(MCPError) as reused:
                await send(client, "sidekick/run", **run, inputResponses={"host-1": host_answer("42")},
                           requestState=state)
    assert done["resultType"] == "complete" and done["text"] == "Found: 42."
    assert done["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "eliza-sidekick"
    assert [(s["tool"], s["source"], s["ok"]) for s in done["steps"]] == [("lookup", "host", True)]
    assert reused.value.error.code == -32602 and "requestState" in reused.value.error.message
    assert not [m for m in recorder.received if m.get("method") == "host/callTool"]  # no request from the server
    rounds = [name for name, _ in progress]
    assert "first" in rounds and "retry" in rounds and rounds.index("retry") > rounds.index("first")
    values = [value for _, value in progress]
    assert values == sorted(values) and len(set(values)) == len(values)


async def test_parallel_host_calls_are_asked_together_and_unanswered_ones_are_asked_again() -> None:
    both = [{"name": "lookup", "arguments": {"q": "a"}}, {"name": "lookup", "arguments": {"q": "b"}}]
    script = [{"tool_calls": both}, {"content": "Both found."}]
    with ScriptedOpenAIServer(script) as model:
        async with connect("2026-07-28", model_env(model), extensions=[advertise(SIDEKICK_EXTENSION)]) as client:
            run = {"task": "Look up a and b", "hostTools": [LOOKUP]}
            first = await send(client, "sidekick/run", **run)
            assert sorted(first["inputRequests"]) == ["host-1", "host-2"]
            partly = await send(client, "sidekick/run", **run, inputResponses={"host-1": host_answer("A")},
                                requestState=first["requestState"])
            assert partly["resultType"] == "input_required" and list(partly["inputRequests"]) == ["host-2"]
            assert partly["requestState"] != first["requestState"]
            done = await send(client, "sidekick/run", **run, inputResponses={"host-2": host_answer("B")},
                              requestState=partly["requestState"])
    assert done["text"] == "Both found." and len(done["steps"]) == 2
    assert sorted(tool_results(model.requests[-1])) == ["A", "B"]


async def test_without_the_extension_host_tools_are_refused_at_once_not_left_hanging() -> None:
    with ScriptedOpenAIServer([]) as model:
        async with connect("2026-07-28", model_env(model)) as client:
            with pytest.raises(MCPError) as refused:
                await send(client, "sidekick/run", task="x", hostTools=[LOOKUP])
            with pytest.raises(MCPError) as stray:
                await send(client, "sidekick/run", task="x", inputResponses={"host-1": {}})
    assert refused.value.error.code == -32021
    assert refused.value.error.data == {"requiredCapabilities": {"extensions": {SIDEKICK_EXTENSION: {}}}}
    assert stray.value.error.code == -32602 and "requestState" in stray.value.error.message
    assert model.calls == 0


async def test_cancelling_a_round_cancels_the_run_and_its_request_state_is_spent() -> None:
    asked = threading.Event()

    def script(body: dict[str, Any]) -> dict[str, Any]:
        if not tool_results(body):
            return {"tool_calls": [{"name": "lookup", "arguments": {"q": "x"}}]}
        asked.set()
        return {"hang": 30}

    with ScriptedOpenAIServer(script) as model:
        recorder = Recorder(server(model_env(model)))
        async with connect("2026-07-28", recorder=recorder, extensions=[advertise(SIDEKICK_EXTENSION)]) as client:
            run = {"task": "slow after the host", "hostTools": [LOOKUP]}
            first = await send(client, "sidekick/run", **run)
            async with anyio.create_task_group() as group:
                scope = anyio.CancelScope()

                async def retry() -> None:
                    with scope:
                        await send(client, "sidekick/run", **run, inputResponses={"host-1": host_answer("x")},
                                   requestState=first["requestState"])

                group.start_soon(retry)
                await wait_for(asked, "the model call after the host's answer")
                scope.cancel()
            with pytest.raises(MCPError) as spent:
                await send(client, "sidekick/run", **run, inputResponses={"host-1": host_answer("x")},
                           requestState=first["requestState"])
    assert spent.value.error.code == -32602
    retries = [m for m in recorder.sent if m.get("method") == "sidekick/run"]
    assert recorder.answers_to(retries[1]["id"]) == []
