"""The issue's acceptance scenario over `sidekick/run`, through every framework: fetch a page → read a number
from it → calculate → save a note through a host tool → answer. The model is the demo's scripted one (its
next step depends on the previous result), behind real HTTP; the sidekick is a real `sidekick --stdio`."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from sidekick.commands.demo import HOST_TOOL, PAGE, TASK, demo_model
from sidekick.testing.pages import PageServer
from sidekick.testing.scripted_server import ScriptedOpenAIServer, tool_results
from tests.frameworks.plugin import require_langgraph, require_plugin
from tests.support.process import SidekickProcess

REVENUE = "216049.225"


@pytest.fixture
def pages() -> Iterator[PageServer]:
    with PageServer({"/acme/q3": ("text/html; charset=utf-8", PAGE)}) as server:
        yield server


def run_as_host(sidekick: SidekickProcess, params: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[str]]:
    """One `sidekick/run` as Eliza drives it: answer each `host/callTool`; returns the result, the notes the
    host saved and the progress messages."""
    sidekick.send({"jsonrpc": "2.0", "id": "run", "method": "sidekick/run",
                   "params": {**params, "_meta": {"progressToken": "p"}}})
    notes: list[str] = []
    progress: list[str] = []
    while True:
        message = sidekick.read()
        if message.get("method") == "host/callTool":
            assert message["params"]["name"] == "SAVE_NOTE"
            notes.append(message["params"]["arguments"]["text"])
            sidekick.send({"jsonrpc": "2.0", "id": message["id"], "result": {
                "content": [{"type": "text", "text": f"note #{len(notes)} saved"}], "isError": False}})
        elif message.get("method") == "notifications/progress":
            progress.append(message["params"]["message"])
        elif message.get("id") == "run":
            assert "result" in message, message
            return message["result"], notes, progress


def scenario(sidekick: SidekickProcess, pages: PageServer, framework: str) -> tuple[
        dict[str, Any], list[str], list[str], ScriptedOpenAIServer]:
    with ScriptedOpenAIServer(demo_model) as server:
        result, notes, progress = run_as_host(sidekick, {
            "task": TASK.format(url=pages.url("/acme/q3")), "hostTools": [HOST_TOOL], "framework": framework,
            "model": {"baseUrl": server.base_url, "model": "scripted-model"}})
    assert not server.errors
    return result, notes, progress, server


@pytest.mark.parametrize("framework", ["native", "langgraph", "handmade"])
def test_the_scenario_passes_through_every_framework_that_reads_results(
        sidekick: SidekickProcess, pages: PageServer, framework: str) -> None:
    if framework == "langgraph":
        require_langgraph()
    if framework == "handmade":
        require_plugin()
    result, notes, progress, server = scenario(sidekick, pages, framework)
    assert result["stopReason"] == "done" and REVENUE in result["text"], result
    assert result["toolsUsed"] == ["fetch_url", "calculate", "SAVE_NOTE"]
    assert [(s["tool"], s["ok"], s["source"]) for s in result["steps"]] == [
        ("fetch_url", True, "builtin"), ("calculate", True, "builtin"), ("SAVE_NOTE", True, "host")]
    assert notes == [f"Acme Q3 revenue: {REVENUE}"]
    assert result["modelTurns"] == server.calls == 4 and result["usage"]["totalTokens"] == 60
    assert [m["role"] for m in result["messages"]] == ["user", *["assistant", "tool"] * 3, "assistant"]
    calls = [c["id"] for m in result["messages"] for c in m.get("tool_calls") or ()]
    assert calls == [m["tool_call_id"] for m in result["messages"] if m["role"] == "tool"]
    assert "SAVE_NOTE → ok: note #1 saved" in progress and "calculate → ok: 216049.225" in progress
    assert len(progress) == 7  # three calls asked for, three results, one answer


def test_upfront_picks_every_call_first_and_answers_without_their_results(
        sidekick: SidekickProcess, pages: PageServer) -> None:
    result, notes, progress, server = scenario(sidekick, pages, "upfront")
    assert result["stopReason"] == "done" and REVENUE not in result["text"]
    assert [s["tool"] for s in result["steps"]] == ["fetch_url"] and notes == []  # it never saw the number
    pick, answer = server.requests
    assert "tools" in pick and "tools" not in answer
    assert tool_results(answer) == [] and "Units sold" not in str(answer["messages"])
    assert "Actions: fetch_url(" in answer["messages"][2]["content"]
    assert [m["role"] for m in result["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert progress == [progress[0], progress[1], "model answered without seeing the results"]
    assert progress[0] == "model chose up front: fetch_url" and progress[1].startswith("fetch_url → ok")


def test_initialize_lists_the_frameworks_and_an_unknown_one_is_invalid_params(sidekick: SidekickProcess) -> None:
    require_plugin()
    capabilities = sidekick.initialize()["result"]["capabilities"]
    listed = capabilities["experimental"]["sidekick"]["frameworks"]
    assert listed[:2] == ["native", "upfront"] and "handmade" in listed
    unknown = sidekick.request(1, "sidekick/run", {"task": "x", "framework": "crewai"})["error"]
    assert unknown["code"] == -32602 and "crewai" in unknown["message"]
    assert "available: native, upfront" in unknown["message"] and "handmade" in unknown["message"]
    assert sidekick.request(2, "ping")["result"] == {}


def test_run_task_takes_a_framework_too() -> None:
    script = [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}}]}, {"content": "Done."}]
    with ScriptedOpenAIServer(script) as server:
        sidekick = SidekickProcess(env={"SIDEKICK_BASE_URL": server.base_url, "SIDEKICK_MODEL": "scripted-model"})
        try:
            sidekick.initialize()
            answer = sidekick.request(1, "tools/call", {"name": "run_task", "arguments": {
                "task": "What is 6 times 7?", "framework": "upfront"}})["result"]
            unknown = sidekick.request(2, "tools/call", {"name": "run_task", "arguments": {
                "task": "x", "framework": "nope"}})["result"]
        finally:
            sidekick.close()
    assert not answer["isError"] and answer["structuredContent"]["toolsUsed"] == ["calculate"]
    assert "tools" not in server.requests[1]  # upfront's answer turn
    assert unknown["isError"] and "unknown framework 'nope'" in unknown["content"][0]["text"]
