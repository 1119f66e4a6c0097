"""run_task as a task: the io.modelcontextprotocol/tasks extension (2026-07-28) through the official Python SDK's
extension API, and 2025-11-25's tasks by hand (the SDK's 2025-11-25 client has no tasks), as the schema says."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from mcp import MCPError

from sidekick.testing.scripted_server import ScriptedOpenAIServer
from tests.mcp_eras.support import (
    AnyResult,
    CancelTask,
    CreatedTask,
    TaskIdParams,
    TasksExtension,
    connect,
    session_of,
    text_of,
    wait_for,
)
from tests.support.process import SidekickProcess

CALC_THEN_ANSWER = [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "6 * 7"}}]},
                    {"content": "The answer is 42."}]


def model_env(model: ScriptedOpenAIServer) -> dict[str, str]:
    return {"SIDEKICK_BASE_URL": model.base_url, "SIDEKICK_MODEL": "scripted-model", "SIDEKICK_API_KEY": "sk-test"}


def hanging_script(asked: threading.Event) -> Any:
    def script(body: dict[str, Any]) -> dict[str, Any]:
        asked.set()
        return {"hang": 30}
    return script


# -- 2026-07-28: the tasks extension ---------------------------------------------------------------------
async def test_a_client_with_the_tasks_extension_gets_run_task_as_a_task_it_polls_to_the_answer() -> None:
    tasks = TasksExtension()
    with ScriptedOpenAIServer(CALC_THEN_ANSWER) as model:
        async with connect("2026-07-28", model_env(model), extensions=[tasks]) as client:
            await client.list_tools()
            result = await client.call_tool("run_task", {"task": "What is 6 times 7?"})
            calc = await client.call_tool("calculate", {"expression": "6 * 7"})  # other tools stay synchronous
    assert len(tasks.created) == 1 and tasks.created[0].status == "working"
    assert tasks.created[0].poll_interval_ms == 500
    assert tasks.polls[-1].status == "completed"
    assert all(p.task_id == tasks.created[0].task_id for p in tasks.polls)
    assert not result.is_error and result.structured_content["stopReason"] == "done"
    assert json.loads(text_of(result)) == result.structured_content
    assert calc.structured_content["result"] == "42"


async def test_a_task_is_cancelled_with_tasks_cancel_and_polls_as_cancelled() -> None:
    asked = threading.Event()
    tasks = TasksExtension()
    with ScriptedOpenAIServer(hanging_script(asked)) as model:
        async with connect("2026-07-28", model_env(model), extensions=[tasks]) as client:
            session = session_of(client)
            created = await session.call_tool("run_task", {"task": "a slow one"}, allow_claimed=True)
            assert isinstance(created, CreatedTask)
            await wait_for(asked, "the model call")
            working = await tasks.poll(session, created.task_id)
            ack = await session.send_request(CancelTask(params=TaskIdParams(task_id=created.task_id)), AnyResult)
            cancelled = await tasks.poll(session, created.task_id)
            with pytest.raises(MCPError) as unknown:
                await tasks.poll(session, "no-such-task")
    assert working.status == "working"
    assert ack.model_dump(by_alias=True, exclude_none=True)["resultType"] == "complete"
    assert cancelled.status == "cancelled" and cancelled.result is None
    assert unknown.value.error.code == -32602


async def test_without_the_extension_run_task_answers_in_the_call_itself() -> None:
    with ScriptedOpenAIServer(CALC_THEN_ANSWER) as model:
        async with connect("2026-07-28", model_env(model)) as client:
            result = await client.call_tool("run_task", {"task": "What is 6 times 7?"})
    assert result.structured_content["text"] == "The answer is 42."


# -- 2025-11-25: experimental tasks, by hand -------------------------------------------------------------
def handshake(sidekick: SidekickProcess, version: str = "2025-11-25") -> dict[str, Any]:
    answer = sidekick.request(0, "initialize", {"protocolVersion": version, "capabilities": {},
                                                "clientInfo": {"name": "by-hand", "version": "1"}})
    sidekick.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    return answer["result"]


def test_2025_11_25_declares_tasks_and_run_task_may_run_as_one() -> None:
    sidekick = SidekickProcess()
    try:
        assert handshake(sidekick)["capabilities"]["tasks"] == {
            "list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
        tools = {t["name"]: t for t in sidekick.request(1, "tools/list")["result"]["tools"]}
        assert tools["run_task"]["execution"] == {"taskSupport": "optional"}
        assert all("execution" not in t for n, t in tools.items() if n != "run_task")
        refused = sidekick.request(2, "tools/call", {"name": "calculate", "arguments": {"expression": "1"},
                                                     "task": {"ttl": 60000}})
        assert refused["error"]["code"] == -32601 and "without `task`" in refused["error"]["message"]
    finally:
        assert sidekick.close() == 0
    older = SidekickProcess()
    try:
        assert "tasks" not in handshake(older, "2025-06-18")["capabilities"]
        assert all("execution" not in t for t in older.request(1, "tools/list")["result"]["tools"])
        ignored = older.request(2, "tools/call", {"name": "run_task", "arguments": {"task": ""},
                                                  "task": {"ttl": 60000}})
        assert ignored["result"]["isError"] is True  # processed normally: there are no tasks before 2025-11-25
    finally:
        assert older.close() == 0


def test_2025_11_25_task_progress_polling_the_blocking_result_and_the_list() -> None:
    with ScriptedOpenAIServer(CALC_THEN_ANSWER) as model:
        sidekick = SidekickProcess(env=model_env(model))
        try:
            handshake(sidekick)
            sidekick.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": "run_task", "arguments": {"task": "6 times 7?"}, "task": {"ttl": 120000},
                "_meta": {"progressToken": "p"}}})
            created, seen = sidekick.read_until(lambda m: m.get("id") == 1)
            task = created["result"]["task"]
            assert task["status"] == "working" and task["ttl"] == 120000 and task["pollInterval"] == 500
            assert task["createdAt"].endswith("Z") and task["lastUpdatedAt"] >= task["createdAt"]
            assert "model-immediate-response" in json.dumps(created["result"]["_meta"])
            sidekick.send({"jsonrpc": "2.0", "id": 2, "method": "tasks/result", "params": {"taskId": task["taskId"]}})
            message, more = sidekick.read_until(lambda m: m.get("id") == 2)  # blocks until the task ends
            seen += more  # progress keeps the original request's token for the task's life
            assert [m["params"]["progress"] for m in seen if m["method"] == "notifications/progress"] == [1, 2, 3]
            assert all(m["params"]["progressToken"] == "p" for m in seen)
            result = message["result"]
            assert result["structuredContent"]["stopReason"] == "done" and result["content"][0]["text"] == \
                "The answer is 42."
            assert result["_meta"]["io.modelcontextprotocol/related-task"] == {"taskId": task["taskId"]}
            polled = sidekick.request(3, "tasks/get", {"taskId": task["taskId"]})["result"]
            assert polled["status"] == "completed" and "result" not in polled and "resultType" not in polled
            listed = sidekick.request(4, "tasks/list")["result"]["tasks"]
            assert [t["taskId"] for t in listed] == [task["taskId"]]
            late = sidekick.request(5, "tasks/cancel", {"taskId": task["taskId"]})
            assert late["error"]["code"] == -32602 and "already completed" in late["error"]["message"]
            assert sidekick.request(6, "tasks/list", {"cursor": "x"})["error"]["code"] == -32602
            assert sidekick.request(7, "tasks/get", {"taskId": "nope"})["error"]["code"] == -32602
            update = sidekick.request(8, "tasks/update", {"taskId": task["taskId"], "inputResponses": {}})
            assert update["error"]["code"] == -32601
        finally:
            assert sidekick.close() == 0


def test_2025_11_25_tasks_cancel_stops_the_run_and_answers_the_cancelled_task() -> None:
    asked = threading.Event()
    with ScriptedOpenAIServer(hanging_script(asked)) as model:
        sidekick = SidekickProcess(env=model_env(model))
        try:
            handshake(sidekick)
            task = sidekick.request(1, "tools/call", {"name": "run_task", "arguments": {"task": "slow"},
                                                      "task": {}})["result"]["task"]
            assert asked.wait(20)
            sidekick.send({"jsonrpc": "2.0", "id": 2, "method": "tasks/result", "params": {"taskId": task["taskId"]}})
            cancelled = sidekick.request(3, "tasks/cancel", {"taskId": task["taskId"]})["result"]
            assert cancelled["status"] == "cancelled" and cancelled["taskId"] == task["taskId"]
            blocked = sidekick.read()
            assert blocked["id"] == 2 and blocked["error"]["code"] == -32602 and "cancelled" in \
                blocked["error"]["message"]
            assert sidekick.request(4, "tasks/get", {"taskId": task["taskId"]})["result"]["status"] == "cancelled"
            assert sidekick.request(5, "ping") == {"jsonrpc": "2.0", "result": {}, "id": 5}
        finally:
            assert sidekick.close() == 0


def test_2025_11_25_an_is_error_run_is_a_failed_task_whose_result_still_comes() -> None:
    with ScriptedOpenAIServer([{"status": 401, "error": "bad key"}]) as model:
        sidekick = SidekickProcess(env=model_env(model))
        try:
            handshake(sidekick)
            task = sidekick.request(1, "tools/call", {"name": "run_task", "arguments": {"task": "x"},
                                                      "task": {}})["result"]["task"]
            result = sidekick.request(2, "tasks/result", {"taskId": task["taskId"]})["result"]
            assert result["isError"] is True and result["structuredContent"]["stopReason"] == "error"
            assert sidekick.request(3, "tasks/get", {"taskId": task["taskId"]})["result"]["status"] == "failed"
        finally:
            assert sidekick.close() == 0


def test_modern_task_status_reads_completed_for_an_is_error_run() -> None:
    """The extension: an isError tool result is a completed task (2025-11-25 says failed)."""
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}}}
    with ScriptedOpenAIServer([{"status": 401, "error": "bad key"}]) as model:
        sidekick = SidekickProcess(env=model_env(model))
        try:
            created = sidekick.request(1, "tools/call", {"name": "run_task", "arguments": {"task": "x"},
                                                         "_meta": meta})["result"]
            assert created["resultType"] == "task" and created["ttlMs"] == 3_600_000
            while True:  # poll as a client would; each answer is a round trip, no sleeping needed here
                polled = sidekick.request(2, "tasks/get", {"taskId": created["taskId"], "_meta": meta})["result"]
                if polled["status"] != "working":
                    break
            assert polled["status"] == "completed" and polled["resultType"] == "complete"
            assert polled["result"]["isError"] is True and polled["result"]["resultType"] == "complete"
            ack = sidekick.request(3, "tasks/cancel", {"taskId": created["taskId"], "_meta": meta})["result"]
            assert ack["resultType"] == "complete"
            assert sidekick.request(4, "tasks/get", {"taskId": created["taskId"]})["result"]["status"] == "completed"
            update = sidekick.request(5, "tasks/update", {"taskId": created["taskId"], "inputResponses": {"k": {}},
                                                          "_meta": meta})["result"]
            assert update == {"resultType": "complete", "_meta": update["_meta"]}
            assert sidekick.request(6, "tasks/result", {"taskId": created["taskId"], "_meta": meta})["error"][
                "code"] == -32601
            assert sidekick.request(7, "tasks/list", {"_meta": meta})["error"]["code"] == -32601
        finally:
            assert sidekick.close() == 0

