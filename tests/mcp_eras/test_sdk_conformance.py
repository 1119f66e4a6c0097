"""The same conformance checks for the official Python SDK client at each MCP revision: connect (discover or
initialize), list, call each tool, run_task with progress and with cancellation, errors."""

from __future__ import annotations

import json
import threading
from typing import Any

import anyio
import pytest
from mcp import MCPError

from sidekick.testing.pages import PageServer
from sidekick.testing.scripted_server import ScriptedOpenAIServer
from tests.mcp_eras.support import ERAS, Recorder, connect, send, server, session_of, text_of, wait_for

PAGE = b"<html><head><title>T</title></head><body><h1>Hello</h1><p>World of numbers</p></body></html>"
RESULTS = (b'<div class="result"><a class="result__a" href="https://example.org/a">Result A</a>'
           b'<a class="result__snippet">Snippet A</a></div>')
TOOLS = ["calculate", "fetch_url", "web_search", "run_task"]


def model_env(model: ScriptedOpenAIServer) -> dict[str, str]:
    return {"SIDEKICK_BASE_URL": model.base_url, "SIDEKICK_MODEL": "scripted-model", "SIDEKICK_API_KEY": "sk-test"}


@pytest.mark.parametrize("era", ERAS)
async def test_connect_then_list_the_tools_in_a_fixed_order_with_titles_and_truthful_annotations(era: str) -> None:
    async with connect(era) as client:
        assert client.protocol_version == era
        assert client.server_info is not None and client.server_info.name == "eliza-sidekick"
        assert client.server_capabilities.tools is not None
        assert "run_task" in (client.instructions or "")
        first, again = await client.list_tools(), await session_of(client).list_tools()
    assert [t.name for t in first.tools] == [t.name for t in again.tools] == TOOLS
    tools = {t.name: t for t in first.tools}
    assert {n: t.title for n, t in tools.items()} == {"calculate": "Calculator", "fetch_url": "Fetch a web page",
                                                        "web_search": "Web search",
                                                        "run_task": "Run a multi-step task"}
    for name, tool in tools.items():
        hints = tool.annotations
        assert hints is not None and hints.title == tool.title and hints.read_only_hint is True, name
        assert tool.output_schema is not None and tool.output_schema["type"] == "object", name
    assert tools["calculate"].annotations.open_world_hint is False
    assert tools["fetch_url"].annotations.open_world_hint is tools["web_search"].annotations.open_world_hint is True
    assert tools["calculate"].annotations.idempotent_hint is True
    assert tools["calculate"].annotations.destructive_hint is False
    assert tools["calculate"].input_schema["required"] == ["expression"]
    assert tools["run_task"].input_schema["required"] == ["task"]


@pytest.mark.parametrize("era", ERAS)
async def test_call_each_tool_structured_content_and_its_json_text(era: str) -> None:
    with PageServer({"/page": ("text/html", PAGE), "/html/": ("text/html", RESULTS)}) as pages:
        async with connect(era, {"SIDEKICK_DDG_URL": pages.url("/html/")}) as client:
            await client.list_tools()  # the SDK then checks each structuredContent against the outputSchema
            calc = await client.call_tool("calculate", {"expression": "1234567 * 0.175"})
            fetched = await client.call_tool("fetch_url", {"url": pages.url("/page")})
            searched = await client.call_tool("web_search", {"query": "numbers"})
    for result in (calc, fetched, searched):
        assert not result.is_error, text_of(result)
        if era == "2026-07-28":  # the 2026-07-28 tools page: the structured content, serialized, as the text
            assert json.loads(text_of(result)) == result.structured_content
    assert calc.structured_content == {"expression": "1234567 * 0.175", "result": "216049.225", "value": 216049.225}
    assert fetched.structured_content["title"] == "T" and "World of numbers" in fetched.structured_content["text"]
    assert searched.structured_content["results"][0]["url"] == "https://example.org/a"
    if era != "2026-07-28":  # the handshake era keeps its readable text, as before
        assert text_of(calc) == "216049.225" and "Result A" in text_of(searched)


@pytest.mark.parametrize("era", ERAS)
async def test_errors_say_how_to_fix_the_call_and_protocol_faults_are_errors(era: str) -> None:
    async with connect(era) as client:
        missing = await client.call_tool("calculate", {})
        wrong = await client.call_tool("web_search", {"query": "x", "maxResults": "many"})
        extra = await client.call_tool("calculate", {"expression": "1", "precision": 3})
        bad_run = await client.call_tool("run_task", {"task": ""})
        refused = await client.call_tool("calculate", {"expression": "__import__('os')"})
        if era == "2026-07-28":
            with pytest.raises(MCPError) as unknown:
                await client.call_tool("no_such_tool", {})
            assert unknown.value.error.code == -32602 and "Unknown tool" in unknown.value.error.message
        else:
            result = await client.call_tool("no_such_tool", {})
            assert result.is_error and "Unknown tool" in text_of(result)
        with pytest.raises(MCPError) as no_method:
            await send(client, "no/such/method")
        assert no_method.value.error.code == -32601
        still = await client.call_tool("calculate", {"expression": "2 + 2"})
    assert missing.is_error and "'expression' is required" in text_of(missing)
    assert 'Call calculate with {"expression": string}' in text_of(missing)
    assert wrong.is_error and "'maxResults'" in text_of(wrong) and '"many"' in text_of(wrong)
    assert '"maxResults"?: integer (≥ 1, ≤ 20)' in text_of(wrong)
    assert extra.is_error and "'precision' is not one of its arguments (expression)" in text_of(extra)
    assert bad_run.is_error and "'task'" in text_of(bad_run) and "Call run_task with" in text_of(bad_run)
    assert refused.is_error
    assert still.structured_content["result"] == "4"


@pytest.mark.parametrize("era", ERAS)
async def test_run_task_reports_progress_and_answers_with_the_run(era: str) -> None:
    script = [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "6 * 7"}}]},
              {"content": "The answer is 42."}]
    progress: list[tuple[float, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, message))

    with ScriptedOpenAIServer(script) as model:
        recorder = Recorder(server(model_env(model)))
        async with connect(era, recorder=recorder) as client:
            await client.list_tools()
            result = await client.call_tool("run_task", {"task": "What is 6 times 7?"},
                                            progress_callback=on_progress)
    assert not result.is_error
    assert result.structured_content["stopReason"] == "done"
    assert result.structured_content["toolsUsed"] == ["calculate"]
    assert "messages" not in result.structured_content
    assert result.structured_content["text"] == "The answer is 42."
    assert text_of(result) == (json.dumps(result.structured_content, ensure_ascii=False) if era == "2026-07-28"
                               else "The answer is 42.")
    sent = [m["params"]["progress"] for m in recorder.received if m.get("method") == "notifications/progress"]
    assert sent == [1, 2, 3]
    assert [value for value, _ in progress] == sent[: len(progress)]  # the SDK may drop one racing the answer
    assert "calculate" in (progress[0][1] or "")


@pytest.mark.parametrize("era", ERAS)
async def test_cancelling_run_task_stops_it_with_no_answer_and_the_server_goes_on(era: str) -> None:
    asked = threading.Event()

    def script(body: dict[str, Any]) -> dict[str, Any]:
        if not asked.is_set():
            asked.set()
            return {"hang": 30}
        return {"content": "after the cancel"}

    with ScriptedOpenAIServer(script) as model:
        recorder = Recorder(server(model_env(model)))
        async with connect(era, recorder=recorder) as client:
            async with anyio.create_task_group() as group:
                scope = anyio.CancelScope()

                async def slow() -> None:
                    with scope:
                        await client.call_tool("run_task", {"task": "a slow one"})

                group.start_soon(slow)
                await wait_for(asked, "the model call")
                scope.cancel()
            after = await client.call_tool("run_task", {"task": "a quick one"})
            calc = await client.call_tool("calculate", {"expression": "1 + 1"})
    assert scope.cancelled_caught
    answer = json.loads(text_of(after))["text"] if era == "2026-07-28" else text_of(after)
    assert answer == "after the cancel"
    assert calc.structured_content["result"] == "2"
    calls = [m for m in recorder.sent if m.get("method") == "tools/call"]
    cancelled = [m["params"]["requestId"] for m in recorder.sent if m.get("method") == "notifications/cancelled"]
    assert cancelled == [calls[0]["id"]]
    assert recorder.answers_to(calls[0]["id"]) == []  # MCP: no answer for a cancelled request
    assert all(len(recorder.answers_to(m["id"])) == 1 for m in calls[1:])
