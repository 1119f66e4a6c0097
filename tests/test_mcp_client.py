"""The official `mcp` Python client against a real `sidekick --stdio` subprocess."""

from __future__ import annotations

import sys
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from sidekick.testing.scripted_server import ScriptedOpenAIServer
from sidekick.testing.pages import PageServer


@asynccontextmanager
async def connect(env: dict[str, str] | None = None) -> AsyncIterator[ClientSession]:
    server = StdioServerParameters(command=sys.executable, args=["-m", "sidekick", "--stdio"],
                                   env={"SIDEKICK_ALLOW_PRIVATE_URLS": "1", **(env or {})})
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            yield session


def text_of(result: Any) -> str:
    return "".join(block.text for block in result.content if block.type == "text")


async def test_initialize_ping_and_list_tools() -> None:
    async with connect() as session:
        info = await session.initialize()
        assert info.server_info.name == "eliza-sidekick"
        await session.send_ping()
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert {"calculate", "fetch_url", "web_search", "run_task"} <= set(tools)
    assert tools["calculate"].input_schema["required"] == ["expression"]


async def test_call_each_builtin_tool() -> None:
    page = b"<html><head><title>T</title></head><body><h1>Hello</h1><p>World of numbers</p></body></html>"
    results = b'<div class="result"><a class="result__a" href="https://example.org/a">Result A</a>' \
              b'<a class="result__snippet">Snippet A</a></div>'
    with PageServer({"/page": ("text/html", page), "/html/": ("text/html", results)}) as pages:
        async with connect({"SIDEKICK_DDG_URL": pages.url("/html/")}) as session:
            await session.initialize()
            calc = await session.call_tool("calculate", {"expression": "1234567 * 0.175"})
            fetched = await session.call_tool("fetch_url", {"url": pages.url("/page")})
            searched = await session.call_tool("web_search", {"query": "numbers"})
            unknown = await session.call_tool("no_such_tool", {})
            bad = await session.call_tool("calculate", {"expression": "__import__('os')"})
    assert text_of(calc) == "216049.225" and not calc.is_error
    assert calc.structured_content["result"] == "216049.225"
    assert "Hello" in text_of(fetched) and "World of numbers" in text_of(fetched) and not fetched.is_error
    assert "Result A" in text_of(searched) and "https://example.org/a" in text_of(searched)
    assert unknown.is_error and "Unknown tool" in text_of(unknown)
    assert text_of(unknown).endswith("Available tools: calculate, fetch_url, web_search, run_task.")  # as listed
    assert bad.is_error


async def test_run_task_with_progress() -> None:
    script = [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "6 * 7"}}]},
              {"content": "The answer is 42."}]
    progress: list[tuple[float, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, message))

    with ScriptedOpenAIServer(script) as model:
        async with connect({"SIDEKICK_BASE_URL": model.base_url, "SIDEKICK_MODEL": "scripted-model"}) as session:
            await session.initialize()
            result = await session.call_tool("run_task", {"task": "What is 6 times 7?"},
                                             progress_callback=on_progress)
            invalid = await session.call_tool("run_task", {"task": ""})
    assert text_of(result) == "The answer is 42." and not result.is_error
    assert result.structured_content["stopReason"] == "done"
    assert result.structured_content["toolsUsed"] == ["calculate"]
    assert [value for value, _ in progress] == [1, 2, 3]
    assert invalid.is_error and "task" in text_of(invalid)
