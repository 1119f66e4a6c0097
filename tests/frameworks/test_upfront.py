"""The `upfront` framework in process: one call picks the actions, they run in order, the answer is written
without their results; limits, errors and the returned transcript as every framework gives them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sidekick.agent.chat import ModelTurn
from sidekick.agent.toolbox import Toolbox
from sidekick.run_protocol import RunParams
from sidekick.errors import ModelError
from sidekick.frameworks.upfront import ANSWER_PROMPT, UPFRONT_NOTE, UpfrontFramework
from sidekick.hooks import HookSet
from sidekick.protocol import ToolSpec
from sidekick.tools.base import ToolRegistry
from tests.agent.scripted_model import ScriptedModel, answer, calls
from tests.agent.test_loop import Add, Lookup

NOTE = ToolSpec(name="note", description="Save a note.", input_schema={"type": "object"})


def toolbox(host_calls: list[tuple[str, dict[str, Any]]]) -> Toolbox:
    async def host(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        host_calls.append((name, arguments))
        return {"content": [{"type": "text", "text": "saved"}], "isError": False}

    registry = ToolRegistry()
    registry.add(Add())
    registry.add(Lookup())
    return Toolbox(registry, registry.names(), [NOTE], host)


async def run(model: ScriptedModel, host_calls: list[Any] | None = None, **params: Any) -> Any:
    said: list[str] = []
    hooks = HookSet("r", [type("Say", (), {"on_progress": lambda self, e: said.append(e.message)})()])
    box = toolbox([] if host_calls is None else host_calls)
    result = await UpfrontFramework().run(RunParams(task="do it", **params), box, model, hooks)
    model.assert_used_up()
    return result, said


async def test_every_call_runs_in_order_and_the_answer_never_sees_a_result() -> None:
    def reply(messages: list[dict[str, Any]]) -> ModelTurn:
        text = json.dumps(messages)
        assert "41" not in text and "saved" not in text and all(m["role"] != "tool" for m in messages)
        assert messages[-1] == {"role": "user", "content": ANSWER_PROMPT}
        assert messages[-2]["content"].startswith("On it.\n\nActions: lookup(")
        return answer("Your number is being looked up and noted.")

    model = ScriptedModel(calls(("lookup", {"key": "x"}), ("note", {"text": "x"}), ("add", "{not json"),
                                content="On it."), reply)
    host_calls: list[Any] = []
    result, said = await run(model, host_calls, system="Be brief.", context={"user": "Ada"})
    system = model.seen[0][0]["content"]
    assert system.startswith("Be brief.\n\nContext from the host:\n- user: Ada") and system.endswith(UPFRONT_NOTE)
    assert model.tools_seen[0] and model.tools_seen[1] == []  # the answer turn is offered no tools
    assert result.stop_reason == "done" and result.model_turns == 2 and result.usage.total_tokens == 22
    assert result.text == "On it.\nYour number is being looked up and noted."
    assert [(s.tool, s.ok, s.source) for s in result.steps] == [("lookup", True, "builtin"), ("note", True, "host"),
                                                               ("add", False, "builtin")]
    assert host_calls == [("note", {"text": "x"})]
    roles = [m["role"] for m in result.messages]
    assert roles == ["user", "assistant", "tool", "tool", "tool", "assistant"]  # the run as it happened
    assert [c["id"] for c in result.messages[1]["tool_calls"]] == [m["tool_call_id"] for m in result.messages[2:5]]
    assert said == ["model chose up front: lookup, note, add", "lookup → ok: 41", "note → ok: saved",
                    "add → error: Could not call add: the arguments are not valid JSON (Expecting property name en",
                    "model answered without seeing the results"]


async def test_a_reply_without_calls_is_the_answer_after_one_model_call() -> None:
    result, said = await run(ScriptedModel(answer("Hello.")))
    assert result.text == "Hello." and result.model_turns == 1 and result.steps == []
    assert [m["role"] for m in result.messages] == ["user", "assistant"] and said == ["model answered"]


async def test_limits_end_the_run_with_a_transcript_whose_calls_all_have_results() -> None:
    one_step, _ = await run(ScriptedModel(calls(("add", {"a": 1, "b": 2}))), max_steps=1)
    assert one_step.stop_reason == "max_steps" and [s.ok for s in one_step.steps] == [True]
    assert "step limit" in one_step.text
    budget, _ = await run(ScriptedModel(calls(("add", {"a": 1, "b": 2}), tokens=50)), token_budget=20)
    assert budget.stop_reason == "token_budget" and budget.steps == []
    assert budget.messages[-1] == {"role": "tool", "tool_call_id": "call_0",
                                   "content": "not run: the run stopped (token_budget)"}


async def test_time_and_endpoint_failures_end_the_run_as_errors_do_in_the_loop() -> None:
    class Slow(ScriptedModel):
        async def complete(self, messages: Any, tools: Any, timeout_s: float | None) -> ModelTurn:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    timed_out, _ = await run(Slow(), timeout_ms=50)
    assert timed_out.stop_reason == "timeout" and "ran out of time" in timed_out.text

    class Refused(ScriptedModel):
        async def complete(self, messages: Any, tools: Any, timeout_s: float | None) -> ModelTurn:
            raise ModelError("The model endpoint refused the API key", kind="auth")

    failed, _ = await run(Refused())
    assert failed.stop_reason == "error" and failed.error is not None and failed.error.kind == "auth"
    assert failed.text == "The run failed: The model endpoint refused the API key"
