"""The MCP-era pieces on their own, in process: the envelope check, the tools' presentation, the task store
and the multi-round-trip rounds."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from sidekick.errors import InvalidParams
from sidekick.mcp_era import (
    CLIENT_CAPABILITIES_KEY,
    PROTOCOL_VERSION_KEY,
    MissingRequiredClientCapability,
    UnsupportedProtocolVersion,
    complete,
    envelope,
)
from sidekick.mcp_rounds import Rounds
from sidekick.mcp_tasks import MAX_KEPT, MIN_TTL_MS, TaskStore, tasks_cancel, tasks_get
from sidekick.mcp_tools import as_json_text, run_task_hints, tool_argument_problem, tool_list
from sidekick.tools import Tool, ToolArgs, build_registry


class NoteArgs(ToolArgs):
    text: str


class WriteNote(Tool):
    """A plugin tool that says nothing about itself."""

    name = "write_note"
    description = "Write a note."
    Args = NoteArgs

    def run(self, args: Any) -> str:
        return "ok"


class ReadNotes(Tool):
    """A plugin tool that declares its own title and hints."""

    name = "a_read_notes"
    description = "Read the notes."
    Args = NoteArgs
    title = "Read notes"
    annotations: ClassVar[dict[str, bool]] = {"readOnlyHint": True, "openWorldHint": False}

    def run(self, args: Any) -> str:
        return "notes"


def modern(**caps: Any) -> dict[str, Any]:
    return {"_meta": {PROTOCOL_VERSION_KEY: "2026-07-28", CLIENT_CAPABILITIES_KEY: caps}}


def test_the_envelope_decides_the_era() -> None:
    assert envelope({}) is None
    assert envelope({"_meta": {"progressToken": 1}}) is None  # the handshake era has _meta too
    assert envelope({"_meta": "x"}) is None
    era = envelope(modern(extensions={"io.modelcontextprotocol/tasks": {}}))
    assert era is not None and era.version == "2026-07-28" and era.has_extension("io.modelcontextprotocol/tasks")
    assert not envelope(modern(extensions={"io.modelcontextprotocol/tasks": True})).has_extension(
        "io.modelcontextprotocol/tasks")
    with pytest.raises(UnsupportedProtocolVersion) as unsupported:
        envelope({"_meta": {PROTOCOL_VERSION_KEY: "2026-01-01", CLIENT_CAPABILITIES_KEY: {}}})
    assert unsupported.value.code == -32022 and unsupported.value.data["requested"] == "2026-01-01"
    with pytest.raises(InvalidParams):
        envelope({"_meta": {PROTOCOL_VERSION_KEY: "2026-07-28"}})
    with pytest.raises(MissingRequiredClientCapability) as missing:
        envelope(modern()).require_extension("com.example/x", "this")
    assert missing.value.code == -32021
    assert missing.value.data == {"requiredCapabilities": {"extensions": {"com.example/x": {}}}}


def test_complete_marks_the_result_and_keeps_its_meta() -> None:
    result = complete({"a": 1, "_meta": {"k": "v"}}, "task")
    assert list(result) == ["resultType", "a", "_meta"] and result["resultType"] == "task"
    assert result["_meta"]["k"] == "v" and result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"]


def test_tools_keep_a_fixed_order_and_run_task_can_do_what_its_tools_can() -> None:
    registry = build_registry(load_plugins=False)
    assert run_task_hints(registry) == {"readOnlyHint": True, "openWorldHint": True}
    registry.add(WriteNote())
    registry.add(ReadNotes())
    tools = tool_list(registry, task_support=False)
    assert [t["name"] for t in tools] == ["calculate", "fetch_url", "web_search", "a_read_notes", "write_note",
                                          "run_task"]
    by_name = {t["name"]: t for t in tools}
    assert "annotations" not in by_name["write_note"] and "title" not in by_name["write_note"]
    assert by_name["a_read_notes"]["annotations"] == {"title": "Read notes", "readOnlyHint": True,
                                                      "openWorldHint": False}
    assert by_name["run_task"]["annotations"] == {"title": "Run a multi-step task", "readOnlyHint": False,
                                                  "openWorldHint": True, "destructiveHint": True,
                                                  "idempotentHint": False}
    assert "execution" not in by_name["run_task"]
    assert tool_list(registry, task_support=True)[-1]["execution"] == {"taskSupport": "optional"}


def test_argument_problems_name_the_fix() -> None:
    calc = build_registry(load_plugins=False).tools["calculate"]
    assert tool_argument_problem(calc, {"expression": "1"}) is None
    assert tool_argument_problem(calc, None) is not None
    assert "must be a JSON object" in tool_argument_problem(calc, [1])
    long_value = tool_argument_problem(calc, {"expression": ["x" * 200]})
    assert "…" in long_value and len(long_value) < 400
    plain = {"content": [{"type": "text", "text": "no"}], "isError": True}
    assert as_json_text(plain) is plain


async def test_tasks_keep_their_ttl_and_the_newest_finished_ones() -> None:
    store = TaskStore()
    started: list[asyncio.Task[Any]] = []

    async def work(_: Any) -> dict[str, Any]:
        return {"content": [], "isError": True}

    record = store.start("2025-11-25", work, ttl_ms=1, track=started.append)
    assert record.ttl_ms == MIN_TTL_MS
    await record.done.wait()
    assert tasks_get(store, None, {"taskId": record.task_id})["status"] == "failed"  # isError, 2025-11-25
    modern_view = tasks_get(store, "2026-07-28", {"taskId": record.task_id})
    assert modern_view["status"] == "completed" and modern_view["result"]["isError"] is True
    record.born -= MIN_TTL_MS / 1000 + 1  # its TTL has passed
    with pytest.raises(InvalidParams):
        store.get(record.task_id)
    many = [store.start("2026-07-28", work, None, started.append) for _ in range(MAX_KEPT + 2)]
    await asyncio.gather(*(r.done.wait() for r in many))
    store.get(many[-1].task_id)
    with pytest.raises(InvalidParams):
        store.get(many[0].task_id)
    assert len(started) == MAX_KEPT + 3


async def test_a_cancelled_task_stays_cancelled() -> None:
    store = TaskStore()
    gate = asyncio.Event()

    async def work(_: Any) -> dict[str, Any]:
        await gate.wait()
        return {"content": [], "isError": False}

    record = store.start("2026-07-28", work, None, lambda task: None)
    await asyncio.sleep(0)
    assert tasks_cancel(store, None, {"taskId": record.task_id})["resultType"] == "complete"
    assert record.done.is_set() and record.status == "cancelled"  # at once, before the run has wound down
    assert record.runner is not None
    await asyncio.wait({record.runner}, timeout=5)
    gate.set()
    assert record.runner.cancelled() and record.status == "cancelled"


async def test_rounds_refuse_unknown_and_foreign_state_and_a_lapsed_state_cancels_the_run() -> None:
    rounds = Rounds()
    with pytest.raises(InvalidParams):
        rounds.resume("nope", "task")
    run = rounds.begin("the task", timeout_s=0.05)
    never = asyncio.Event()

    async def start(suspended: Any) -> Any:
        await suspended.call_host("lookup", {"q": 1})
        await never.wait()

    class Ctx:
        def progress(self, value: float, message: str | None = None) -> None:
            pass

    first = await rounds.advance(run, Ctx(), start)  # type: ignore[arg-type]
    assert first["resultType"] == "input_required" and list(first["inputRequests"]) == ["host-1"]
    with pytest.raises(InvalidParams):
        rounds.resume(first["requestState"], "another task")  # the state stays for its own run
    assert run.runner is not None
    await asyncio.wait({run.runner}, timeout=5)  # no retry within the host tool timeout: the run is cancelled
    assert run.runner.cancelled()
    with pytest.raises(InvalidParams):
        rounds.resume(first["requestState"], "the task")
