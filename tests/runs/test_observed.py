"""The model and toolbox a framework gets report each call: timing, usage, outcome and error class."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sidekick.agent.chat import ModelTurn
from sidekick.errors import ConnectionClosedError, ModelError
from sidekick.hooks import HookSet, RunHooks
from sidekick.protocol import ToolSpec
from sidekick.runs.observed import ObservedModel, ObservedToolbox
from sidekick.tools.base import ToolRegistry
from tests.agent.scripted_model import ScriptedModel, calls
from tests.agent.test_loop import Add


class Seen(RunHooks):
    def __init__(self) -> None:
        self.events: list[Any] = []

    def on_model_call_start(self, event: Any) -> None:
        self.events.append(event)

    on_model_call_end = on_tool_call_start = on_tool_call_end = on_model_call_start


async def test_model_calls_are_reported_with_usage_and_the_calls_asked_for() -> None:
    seen = Seen()
    inner = ScriptedModel(calls(("add", {"a": 1, "b": 2}), tokens=30), budget=500)
    inner.settings = "the wrapped model's"  # type: ignore[attr-defined]
    model = ObservedModel(inner, HookSet("r", [seen]))
    turn = await model.complete([{"role": "user", "content": "x"}], [{"name": "add"}], None)
    assert turn.tool_calls[0].name == "add" and await model.prompt_budget([]) == 500
    assert model.settings == "the wrapped model's"
    started, ended = seen.events
    assert (started.turn, started.messages, started.tools) == (1, 1, 1)
    assert ended.turn == 1 and ended.tool_calls == ("add",) and ended.usage.total_tokens == 31
    assert ended.error is None and ended.duration_ms >= 0


async def test_a_failed_or_cancelled_model_call_still_ends_with_its_error() -> None:
    class Failing(ScriptedModel):
        async def complete(self, messages: Any, tools: Any, timeout_s: float | None) -> ModelTurn:
            raise ModelError("slow", kind="timeout")

    seen = Seen()
    with pytest.raises(ModelError):
        await ObservedModel(Failing(), HookSet("r", [seen])).complete([], [], None)
    assert seen.events[-1].error == "timeout"

    class Hanging(ScriptedModel):
        async def complete(self, messages: Any, tools: Any, timeout_s: float | None) -> ModelTurn:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    task = asyncio.ensure_future(ObservedModel(Hanging(), HookSet("r", [seen])).complete([], [], None))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen.events[-1].error == "CancelledError"


async def test_tool_calls_are_reported_with_source_outcome_and_error_class() -> None:
    async def host(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        if arguments.get("gone"):
            raise ConnectionClosedError("closed")
        return {"content": [{"type": "text", "text": "nope"}], "isError": True}

    registry = ToolRegistry()
    registry.add(Add())
    seen = Seen()
    box = ObservedToolbox(registry, ["add"], [ToolSpec(name="post", description="p", input_schema={})], host,
                          hooks=HookSet("r", [seen]))
    assert (await box.call("add", {"a": 1, "b": 2})).text == "3"
    await box.call("add", {"a": "x"})
    await box.call("post", {})
    await box.call("missing", {})
    with pytest.raises(Exception, match="went away|closed"):
        await box.call("post", {"gone": True})
    ended = [e for e in seen.events if type(e).__name__ == "ToolCallEnded"]
    assert [(e.name, e.source, e.ok, e.error) for e in ended] == [
        ("add", "builtin", True, None), ("add", "builtin", False, "tool_error"), ("post", "host", False, "host_error"),
        ("missing", "unknown", False, "unknown_tool"), ("post", "host", False, "host_gone")]
    assert ended[0].preview == "3" and ended[0].arguments == {"a": 1, "b": 2}
    assert len([e for e in seen.events if type(e).__name__ == "ToolCallStarted"]) == 5
