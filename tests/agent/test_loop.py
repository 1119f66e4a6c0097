from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import Field

from sidekick.agent.loop import AgentLoop, parse_arguments
from sidekick.agent.chat import ModelTurn
from sidekick.agent.grounding import ANSWER_KEY
from sidekick.agent.prompt import DECISION_FORMAT, FAILED_AGAIN_NOTE, REPEATED_CALLS_NOTE
from sidekick.run_protocol import RunParams
from sidekick.agent.toolbox import Toolbox
from sidekick.errors import ConnectionClosedError, ModelError, RemoteError
from sidekick.protocol import ToolSpec
from sidekick.tools.base import Tool, ToolArgs, ToolFailure, ToolRegistry
from tests.agent.scripted_model import ScriptedModel, answer, calls


class AddArgs(ToolArgs):
    a: float
    b: float


class Add(Tool):
    name = "add"
    description = "Add two numbers."
    Args = AddArgs

    async def run(self, args: AddArgs) -> str:
        return f"{args.a + args.b:g}"


class LookupArgs(ToolArgs):
    key: str = Field(description="what to look up")


class Lookup(Tool):
    """Looks numbers up; a test can hold calls at `gate` and watch how many run at once."""

    name = "lookup"
    description = "Look up a number by key."
    Args = LookupArgs

    def __init__(self, gated: bool = False, expect_running: int = 1) -> None:
        self.gate = asyncio.Event()
        if not gated:
            self.gate.set()
        self.expect_running = expect_running
        self.all_started = asyncio.Event()
        self.running = self.peak = 0

    async def run(self, args: LookupArgs) -> str:
        self.running += 1
        self.peak = max(self.peak, self.running)
        if self.running >= self.expect_running:
            self.all_started.set()
        try:
            await self.gate.wait()
            if args.key == "missing":
                raise ToolFailure("no such key")
            return {"x": "41", "y": "1"}.get(args.key, "0")
        finally:
            self.running -= 1


def toolbox(host: Any = None, host_tools: list[ToolSpec] | None = None, lookup: Lookup | None = None) -> Toolbox:
    registry = ToolRegistry()
    registry.add(Add())
    registry.add(lookup or Lookup())
    return Toolbox(registry, registry.names(), host_tools or [], host)


async def within(awaitable: Any, seconds: float = 5.0) -> Any:
    return await asyncio.wait_for(awaitable, seconds)


PROGRESS: list[tuple[int, str]] = []


async def run(scripted: ScriptedModel, box: Toolbox | None = None, **params: Any) -> Any:
    """One run against the scripted model, which must have been asked for exactly its scripted steps."""
    PROGRESS.clear()
    loop = AgentLoop(scripted, box or toolbox(), progress=lambda n, m: PROGRESS.append((n, m)))
    result = await loop.run(RunParams(task=params.pop("task", "do it"), **params))
    scripted.assert_used_up()
    assert not result.error or result.error.kind != "internal", result.error  # a scripted surprise, not a pass
    return result


def tool_results(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages if m["role"] == "tool"]


async def test_the_next_call_depends_on_the_previous_result() -> None:
    def second(messages: list[dict[str, Any]]) -> ModelTurn:
        assert messages[-1] == {"role": "tool", "tool_call_id": "call_0", "content": "41"}
        return calls(("add", {"a": 41, "b": 1}))

    model = ScriptedModel(calls(("lookup", {"key": "x"})), second, answer("The answer is 42."))
    result = await run(model)
    model.assert_used_up()
    assert result.text == "The answer is 42." and result.stop_reason == "done"
    assert [s.tool for s in result.steps] == ["lookup", "add"] and result.tools_used == ["lookup", "add"]
    assert result.usage.total_tokens == 33 and result.model_turns == 3
    assert result.messages[0] == {"role": "user", "content": "do it"}
    assert [m["role"] for m in result.messages] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert [n for n, _ in PROGRESS] == [1, 2, 3, 4, 5]


async def test_parallel_calls_run_concurrently_and_answer_in_order() -> None:
    lookup = Lookup(gated=True, expect_running=2)
    model = ScriptedModel(calls(("lookup", {"key": "x"}), ("lookup", {"key": "y"}), ("add", {"a": 1, "b": 2})),
                          answer("done"))
    task = asyncio.ensure_future(run(model, toolbox(lookup=lookup)))
    await within(lookup.all_started.wait())  # both lookups are in flight at once
    lookup.gate.set()
    result = await within(task)
    transcript = model.seen[1]
    assert [(m["tool_call_id"], m["content"]) for m in transcript if m["role"] == "tool"] == [
        ("call_0", "41"), ("call_1", "1"), ("call_2", "3")]
    assert lookup.peak == 2 and [s.ok for s in result.steps] == [True, True, True]


@pytest.mark.parametrize("raw, fragment", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"a": "x", "b": 1}', "Invalid arguments for add: a:"),
    ('{"a": 1, "b": 2, "c": 3}', "c: Extra inputs are not permitted"),
])
async def test_malformed_arguments_go_back_to_the_model(raw: str, fragment: str) -> None:
    model = ScriptedModel(calls(("add", raw)), answer("fixed"))
    result = await run(model)
    assert fragment in tool_results(model.seen[1])[0]
    assert result.steps[0].ok is False and result.stop_reason == "done"


@pytest.mark.parametrize("raw", [None, "", "  ", "null", {}])
async def test_empty_or_null_arguments_mean_no_arguments(raw: Any) -> None:
    assert parse_arguments(raw) == ({}, None)


async def test_unknown_tool_and_tool_failure_are_results_the_model_reads() -> None:
    model = ScriptedModel(calls(("nope", {}), ("lookup", {"key": "missing"})), answer("recovered"))
    result = await run(model)
    unknown, failed = tool_results(model.seen[1])
    assert "Unknown tool 'nope'" in unknown and "add, lookup" in unknown
    assert "no such key" in failed
    assert [s.source for s in result.steps] == ["unknown", "builtin"]


async def test_tool_call_written_as_text_is_understood() -> None:
    text = 'Let me look.\n<tool_call>{"name": "lookup", "arguments": {"key": "x"}}</tool_call>'
    model = ScriptedModel(ModelTurn(content=text), answer("41 it is"))
    result = await run(model)
    assert result.steps[0].tool == "lookup" and tool_results(model.seen[1]) == ["41"]
    assistant = model.seen[1][-2]
    assert assistant["content"] is None and assistant["tool_calls"][0]["function"]["name"] == "lookup"  # no prose


async def test_bare_json_answer_naming_no_tool_stays_an_answer() -> None:
    model = ScriptedModel(ModelTurn(content='{"name": "Ada", "arguments": []}'))
    result = await run(model)
    assert result.text == '{"name": "Ada", "arguments": []}' and not result.steps


async def test_max_steps_stops_with_best_answer_so_far_and_a_valid_transcript() -> None:
    model = ScriptedModel(calls(("lookup", {"key": "x"}), content="Looking up x."),
                          calls(("lookup", {"key": "y"})))
    result = await run(model, max_steps=2)
    model.assert_used_up()
    assert result.stop_reason == "max_steps"
    assert "step limit" in result.text and result.text.endswith("The model's last words: Looking up x.")
    assert_every_call_answered(result.messages)


def assert_every_call_answered(messages: list[dict[str, Any]]) -> None:
    asked = [c["id"] for m in messages if m["role"] == "assistant" for c in m.get("tool_calls") or ()]
    answered = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
    assert len(set(asked)) == len(asked) and sorted(asked) == sorted(answered)


async def test_call_ids_stay_unique_across_turns_even_when_the_endpoint_repeats_or_omits_them() -> None:
    text_call = '<tool_call>{"name": "lookup", "arguments": {"key": "y"}}</tool_call>'
    model = ScriptedModel(ModelTurn(content=text_call), ModelTurn(content=text_call),
                          calls(("add", {"a": 1, "b": 1})), calls(("lookup", {"key": "x"})))
    result = await run(model, max_steps=4)
    ids = [c["id"] for m in result.messages if m["role"] == "assistant" for c in m.get("tool_calls") or ()]
    assert len(ids) == 4 and len(set(ids)) == 4
    assert_every_call_answered(result.messages)


async def test_token_budget_stops_the_run_and_answers_every_open_call() -> None:
    model = ScriptedModel(calls(("lookup", {"key": "x"}), tokens=500))
    result = await run(model, token_budget=100)
    assert result.stop_reason == "token_budget" and "token budget" in result.text
    assert tool_results(result.messages) == ["not run: the token budget is used up"]


async def test_timeout_stops_the_run_and_closes_open_calls() -> None:
    model = ScriptedModel(calls(("lookup", {"key": "x"})))
    result = await run(model, toolbox(lookup=Lookup(gated=True)), timeout_ms=50)  # the tool never finishes
    assert result.stop_reason == "timeout" and "ran out of time" in result.text
    assert tool_results(result.messages) == ["not run: the run stopped (timeout)"]


async def test_model_error_ends_the_run_with_a_clear_error() -> None:
    class Broken:
        async def complete(self, *args: Any) -> ModelTurn:
            raise ModelError("Could not connect to the model endpoint", kind="connection")

    result = await AgentLoop(Broken(), toolbox()).run(RunParams(task="x"))
    assert result.stop_reason == "error" and result.error.kind == "connection"
    assert result.text.startswith("The run failed: Could not connect")


async def test_host_tools_are_called_and_their_answers_and_errors_fed_back() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    async def host(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        seen.append((name, arguments))
        if arguments.get("text") == "fail":
            raise RemoteError(-32000, "action crashed")
        return {"content": [{"type": "text", "text": "sent!"}], "isError": False}

    spec = ToolSpec(name="SEND_MESSAGE", description="Send", input_schema={"type": "object"})
    model = ScriptedModel(calls(("SEND_MESSAGE", {"text": "hi"}), ("SEND_MESSAGE", {"text": "fail"})),
                          answer("ok"))
    result = await run(model, toolbox(host, [spec]))
    assert seen == [("SEND_MESSAGE", {"text": "hi"}), ("SEND_MESSAGE", {"text": "fail"})]
    assert tool_results(model.seen[1]) == ["sent!", "Error: SEND_MESSAGE failed on the host: action crashed"]
    assert [s.source for s in result.steps] == ["host", "host"]
    assert "SEND_MESSAGE" in [t["name"] for t in model.tools_seen[0]]


async def test_host_gone_ends_the_run() -> None:
    async def host(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        raise ConnectionClosedError("the host closed the connection")

    spec = ToolSpec(name="ACT", description="x", input_schema={"type": "object"})
    result = await run(ScriptedModel(calls(("ACT", {}))), toolbox(host, [spec]))
    assert result.stop_reason == "error" and result.error.kind == "host_gone"


async def test_conversation_continues_from_earlier_messages() -> None:
    first = await run(ScriptedModel(calls(("lookup", {"key": "x"})), answer("x is 41")), task="what is x?")
    model = ScriptedModel(answer("x plus one is 42"))
    await run(model, task="and plus one?", messages=first.messages, context={"agentName": "Eliza", "room": None})
    sent = model.seen[0]
    assert sent[0]["role"] == "system" and "agentName: Eliza" in sent[0]["content"] and "room" not in sent[0]["content"]
    assert sent[1:-1] == first.messages and sent[-1] == {"role": "user", "content": "and plus one?"}


async def test_a_call_made_earlier_in_the_conversation_may_be_told_of() -> None:
    first = await run(ScriptedModel(calls(("lookup", {"key": "x"})), answer("x is 41")), task="what is x?")
    told = "I called the lookup function before: x was 41."
    model = ScriptedModel(answer(told))
    result = await run(model, task="what was x again?", messages=first.messages)
    assert result.text == told and len(model.seen) == 1


async def test_cancellation_propagates_promptly() -> None:
    lookup = Lookup(gated=True)
    task = asyncio.ensure_future(run(ScriptedModel(calls(("lookup", {"key": "x"}))), toolbox(lookup=lookup)))
    await within(lookup.all_started.wait())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await within(task)
    assert lookup.running == 0


async def test_transcript_sent_stays_within_budget() -> None:
    class Big(Tool):
        name = "big"
        description = "Return a lot of text."
        Args = ToolArgs

        async def run(self, args: Any) -> str:
            return "z" * 12_000

    registry = ToolRegistry()
    registry.add(Big())
    model = ScriptedModel(*[calls(("big", {})) for _ in range(4)], answer("done"))
    await run(model, Toolbox(registry, ["big"]), transcript_budget_chars=20_000)
    sizes = [sum(len(m.get("content") or "") for m in sent) for sent in model.seen]
    assert max(sizes) <= 20_000 + 2_000  # the system prompt and markers ride on top
    assert json.dumps(model.seen[-1]).count("cut to fit") >= 2


def test_context_renders_multi_line_values_inside_their_item() -> None:
    from sidekick.agent.prompt import render_context

    rendered = render_context({"conversation": "user: hi\nagent: hello", "user": {"name": "Ada"}, "empty": ""})
    assert rendered == '- conversation: user: hi\n  agent: hello\n- user: {"name": "Ada"}'


CALL_LIKE = '```json\n{"name": "look_up", "arguments": {"key": "x"}}\n```'


async def test_a_call_like_reply_gets_one_correction_and_the_run_goes_on() -> None:
    def corrected(messages: list[dict[str, Any]]) -> ModelTurn:
        assert messages[-2] == {"role": "user", "content": "do it"}  # the unusable reply is not shown again
        assert messages[-1]["role"] == "user" and "no tool named 'look_up'" in messages[-1]["content"]
        assert "add, lookup" in messages[-1]["content"]
        return ModelTurn(content='{"name": "lookup", "arguments": {"key": "x"}}')

    model = ScriptedModel(ModelTurn(content=CALL_LIKE), corrected, answer("It is 41."))
    result = await run(model)
    assert result.stop_reason == "done" and result.text == "It is 41." and result.model_turns == 3
    assert [s.tool for s in result.steps] == ["lookup"]
    assert [m["role"] for m in result.messages] == ["user", "assistant", "tool", "assistant"]  # the note is gone
    assert any("not usable (malformed_call)" in m for _, m in PROGRESS)


async def test_a_call_to_a_tool_unlike_any_offered_is_pointed_at_a_plain_answer_not_an_example() -> None:
    def corrected(messages: list[dict[str, Any]]) -> ModelTurn:
        note = messages[-1]["content"]
        assert "no tool named 'translate'" in note and "add, lookup" in note
        assert "answer it yourself now" in note and '"arguments"' not in note  # no example call to copy
        return ModelTurn(content="Gracias.")

    reply = '```json\n{"name": "translate", "arguments": {"text": "thanks"}}\n```'
    result = await run(ScriptedModel(ModelTurn(content=reply), corrected))
    assert result.stop_reason == "done" and result.text == "Gracias." and result.steps == []


async def test_a_call_to_a_missing_tool_named_like_offered_ones_lists_them_without_a_guess() -> None:
    def corrected(messages: list[dict[str, Any]]) -> ModelTurn:
        note = messages[-1]["content"]
        assert "no tool named 'find_key'" in note and "Tools with similar names: lookup_key, set_key;" in note
        assert "Did you mean" not in note and '{"name": "lookup_key"' in note
        return answer("done")

    registry = ToolRegistry()
    for name in ("lookup_key", "set_key", "add"):
        registry.add(type(name, (Add,), {"name": name})())
    reply = '{"name": "find_key", "arguments": {"key": "x"}}'
    await run(ScriptedModel(ModelTurn(content=reply), corrected), Toolbox(registry, registry.names()))


@pytest.mark.parametrize("reply, kind", [
    (CALL_LIKE, "malformed_call"),
    ('<tool_response>{"value": 41}</tool_response>\nThe value is 41.', "invented_tool_result"),
    ("", "no_answer"),
])
async def test_a_second_unusable_reply_in_a_row_ends_the_run_saying_why(reply: str, kind: str) -> None:
    model = ScriptedModel(ModelTurn(content=reply), ModelTurn(content=reply))
    result = await run(model)
    assert result.stop_reason == "error" and result.error is not None and result.error.kind == kind
    assert result.text.startswith("The run failed: ") and "also after a correction" in result.text
    assert '"name"' not in result.text and "<tool_response>" not in result.text


async def test_a_cut_off_reply_is_not_the_answer() -> None:
    def shorter(messages: list[dict[str, Any]]) -> ModelTurn:
        assert "cut off at the length limit of 50 tokens" in messages[-1]["content"]
        return answer("Short answer.")

    model = ScriptedModel(ModelTurn(content="A very long answer that goes on and", finish_reason="length"), shorter)
    result = await run(model, model={"maxTokens": 50})
    assert result.stop_reason == "done" and result.text == "Short answer."


async def test_a_call_before_an_invented_result_is_run_and_the_invention_dropped() -> None:
    text = ('<tool_call>{"name": "lookup", "arguments": {"key": "x"}}</tool_call>\n'
            '<tool_response>{"value": 7}</tool_response>\nThe value is 7.')
    model = ScriptedModel(ModelTurn(content=text), answer("It is 41."))
    result = await run(model)
    assert tool_results(model.seen[1]) == ["41"] and model.seen[1][-2]["content"] is None
    assert result.text == "It is 41."


async def test_a_usable_reply_resets_the_correction_so_a_later_slip_is_corrected_again() -> None:
    model = ScriptedModel(ModelTurn(content=""), calls(("lookup", {"key": "x"})), ModelTurn(content=""),
                          answer("41"))
    result = await run(model)
    assert result.stop_reason == "done" and result.text == "41" and result.model_turns == 4


async def test_corrections_count_against_max_steps() -> None:
    model = ScriptedModel(ModelTurn(content=CALL_LIKE))
    result = await run(model, max_steps=1)
    assert result.stop_reason == "max_steps" and "step limit" in result.text
    assert result.messages == [{"role": "user", "content": "do it"}]  # no correction left dangling


async def test_the_system_prompt_names_only_tools_the_run_offers() -> None:
    registry = ToolRegistry()
    registry.add(Add())
    model = ScriptedModel(answer("ok"))
    await run(model, Toolbox(registry, ["add"]))
    system = model.seen[0][0]["content"]
    assert "calculate" not in system and "tool" in system
    model = ScriptedModel(answer("ok"))
    await run(model, Toolbox(registry, []))
    assert "tool" not in model.seen[0][0]["content"]


async def test_a_reply_that_only_announces_a_call_is_corrected_once_then_taken_as_it_is() -> None:
    announced = "I will call the `lookup` function with the key x."

    def nudged(messages: list[dict[str, Any]]) -> ModelTurn:
        assert "speaks of calling lookup, but it holds no call" in messages[-1]["content"]
        return calls(("lookup", {"key": "x"}))

    model = ScriptedModel(ModelTurn(content=announced), nudged, answer("41."))
    assert (await run(model)).text == "41."
    assert model.tool_choices == [None, "lookup", None]  # the turn after the announcement must call it
    question = "To look that up I will use lookup: which key do you mean?"
    model = ScriptedModel(ModelTurn(content=question), ModelTurn(content=question))
    result = await run(model)
    assert result.stop_reason == "done" and result.text == question


async def test_an_announcement_naming_a_tool_after_a_vaguer_one_gets_that_tool_forced() -> None:
    vague = "Now that I have the key, let's try again."
    named = "I'll call the `add` function with 41 and 1."
    model = ScriptedModel(calls(("lookup", {"key": "x"})), answer(vague), answer(named),
                          calls(("add", {"a": 41, "b": 1})), answer(named), answer(named))
    result = await run(model)
    assert model.tool_choices == [None, None, None, "add", None, "add"]  # forced again after a usable reply
    assert "says what comes next" in model.seen[2][-1]["content"]
    assert model.seen[3][-2]["content"] == "41"  # neither reply nor the first note are shown again
    assert "speaks of calling add" in model.seen[3][-1]["content"]
    assert result.text == named and [s.tool for s in result.steps] == ["lookup", "add"]


@pytest.mark.parametrize("reply, said", [
    ("Now that I have the key, I can proceed to adding the numbers.", "a call of add"),  # a next step, by its verb
    ("I called the `add` function with 41 and 1, and it returned the sum.", "never called it"),  # a call not made
])
async def test_a_reply_that_points_at_one_tool_without_calling_it_gets_that_tool_forced(reply: str, said: str) -> None:
    model = ScriptedModel(calls(("lookup", {"key": "x"})), answer(reply), calls(("add", {"a": 41, "b": 1})),
                          answer("42."))
    result = await run(model)
    assert model.tool_choices == [None, None, "add", None] and result.text == "42."
    assert said in model.seen[2][-1]["content"]


async def test_an_answer_that_tells_of_the_calls_instead_of_their_results_is_corrected_once() -> None:
    told = "I called the lookup function with the key x, and it returned the number."
    model = ScriptedModel(calls(("lookup", {"key": "x"})), answer(told), answer("x is 41."))
    result = await run(model)
    assert result.text == "x is 41." and "tells of the tool calls" in model.seen[2][-1]["content"]
    model = ScriptedModel(calls(("lookup", {"key": "x"})), answer(told), answer(told))
    assert (await run(model)).text == told


async def test_a_reply_that_repeats_the_task_is_corrected_once_then_taken_as_it_is() -> None:
    task = "What is x, looked up?"

    def nudged(messages: list[dict[str, Any]]) -> ModelTurn:
        assert messages[-1]["role"] == "user" and "only repeated the task" in messages[-1]["content"]
        return answer("x is 41.")

    model = ScriptedModel(calls(("lookup", {"key": "x"})), answer(task), nudged)
    result = await run(model, task=task)
    assert result.text == "x is 41." and result.model_turns == 3
    model = ScriptedModel(answer(task), answer(task))
    result = await run(model, task=task)
    assert result.stop_reason == "done" and result.text == task


async def test_a_context_overflow_shrinks_the_transcript_and_retries_once() -> None:
    from sidekick.errors import ContextOverflowError

    class Overflowing(ScriptedModel):
        async def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                           timeout_s: float | None) -> ModelTurn:
            if len(self.seen) == 1 and self.budget is None:
                self.budget = 400  # what the adapter learned from the overflow error
                raise ContextOverflowError("request (9000 tokens) exceeds the available context size", 512, 9000)
            return await super().complete(messages, tools, timeout_s)

    class Page(Tool):
        name = "page"
        description = "A long page."
        Args = ToolArgs

        async def run(self, args: ToolArgs) -> str:
            return "1234567890 " * 1000

    registry = ToolRegistry()
    registry.add(Page())
    model = Overflowing(calls(("page", {})), answer("read it"))
    result = await run(model, Toolbox(registry, ["page"]))
    assert result.stop_reason == "done" and len(model.seen) == 2
    page = tool_results(model.seen[1])[0]
    assert len(page) < 1500 and "cut to fit" in page


async def test_a_second_overflow_ends_the_run_with_its_kind() -> None:
    from sidekick.errors import ContextOverflowError

    class AlwaysOverflowing(ScriptedModel):
        async def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                           timeout_s: float | None) -> ModelTurn:
            self.seen.append(messages)
            raise ContextOverflowError("too long", 512, 9000)

    model = AlwaysOverflowing(answer("never"), answer("never"))
    result = await run(model)
    assert result.stop_reason == "error" and result.error.kind == "context_overflow" and len(model.seen) == 2


def counting_lookup() -> tuple[Lookup, list[str]]:
    """A lookup tool and the keys it has been run with."""
    lookup = Lookup()
    runs: list[str] = []
    original = lookup.run

    async def counted(args: LookupArgs) -> str:
        runs.append(args.key)
        return await original(args)

    lookup.run = counted  # type: ignore[method-assign]
    return lookup, runs


async def test_a_repeated_successful_call_is_not_run_again_and_the_model_is_told() -> None:
    lookup, runs = counting_lookup()
    model = ScriptedModel(calls(("lookup", {"key": "x"})), calls(("lookup", {"key": "x"})),
                          calls(("lookup", {"key": "missing"})), calls(("lookup", {"key": "missing"})), answer("41"))
    result = await run(model, toolbox(lookup=lookup))
    assert runs == ["x", "missing", "missing"]  # a failed call may be retried
    assert [s.repeated for s in result.steps] == [False, True, False, False]
    repeated = tool_results(model.seen[2])[-1]
    assert repeated.startswith("41\n") and "already made this exact call" in repeated


def held_to_a_decision(schema: dict[str, Any] | None) -> set[str]:
    """The tools a turn held to `grounding.decision_schema` may call; it may answer too."""
    assert schema is not None
    answer, one, several = schema["anyOf"]
    assert answer["required"] == [ANSWER_KEY] and several == {"type": "array", "items": one, "minItems": 1}
    return {option["properties"]["name"]["const"] for option in one["anyOf"]}


async def test_after_a_correction_a_model_that_can_be_held_to_a_schema_replies_with_calls_or_an_answer() -> None:
    model = ScriptedModel(answer("I will check that for you."), ModelTurn(content='{"answer": "x is 41."}'),
                          grounds=True)
    result = await run(model)
    assert result.text == "x is 41." and result.stop_reason == "done"
    assert model.call_schemas[0] is None and held_to_a_decision(model.call_schemas[1]) == {"add", "lookup"}
    note = model.seen[1][-1]
    assert note["role"] == "user" and note["content"].endswith(DECISION_FORMAT)
    assert [m["role"] for m in result.messages] == ["user", "assistant"]  # the correction is no part of it


async def test_a_correction_says_nothing_of_json_where_the_model_cannot_be_held_to_a_schema() -> None:
    model = ScriptedModel(answer("I will check that for you."), answer("x is 41."))
    result = await run(model)
    assert result.text == "x is 41." and model.call_schemas == [None, None]
    assert DECISION_FORMAT not in model.seen[1][-1]["content"]


async def test_calls_that_were_all_made_before_are_followed_by_a_turn_told_to_answer_and_held() -> None:
    lookup, runs = counting_lookup()
    model = ScriptedModel(calls(("lookup", {"key": "x"})), calls(("lookup", {"key": "x"})),
                          ModelTurn(content='{"answer": "41"}'), grounds=True)
    result = await run(model, toolbox(lookup=lookup))
    assert runs == ["x"] and result.text == "41"
    assert model.call_schemas[:2] == [None, None] and held_to_a_decision(model.call_schemas[2]) == {"add", "lookup"}
    assert model.seen[2][-1] == {"role": "user", "content": f"{REPEATED_CALLS_NOTE} {DECISION_FORMAT}"}
    assert "Every call" not in json.dumps(result.messages)


async def test_held_calls_run_like_any_others_and_the_note_is_dropped() -> None:
    model = ScriptedModel(calls(("lookup", {"key": "x"})), calls(("lookup", {"key": "x"})),
                          ModelTurn(content='[{"name": "lookup", "arguments": {"key": "y"}}]'), answer("42"),
                          grounds=True)
    result = await run(model)
    assert [s.tool for s in result.steps if not s.repeated] == ["lookup", "lookup"] and result.text == "42"
    assert model.call_schemas[3] is None and REPEATED_CALLS_NOTE not in json.dumps(model.seen[3])


async def test_a_reply_that_writes_back_the_correction_is_no_answer_and_ends_the_run_saying_so() -> None:
    def parrot(messages: list[dict[str, Any]]) -> ModelTurn:
        return answer(messages[-1]["content"][:120])

    model = ScriptedModel(answer("I will check that for you."), parrot)
    result = await run(model)
    assert result.stop_reason == "error" and result.error.kind == "echoed_correction"
    assert result.text.startswith("The run failed: The model wrote back the correction it was sent instead of a reply")


async def test_a_new_problem_after_a_correction_gets_its_own_and_one_said_again_is_taken() -> None:
    model = ScriptedModel(answer("I will check that for you."), answer("Could you please provide the key?"),
                          calls(("lookup", {"key": "x"})), answer("x is 41."))
    result = await run(model, task="Look up x.")
    assert result.text == "x is 41." and [s.tool for s in result.steps] == ["lookup"]
    assert "asks the user for more" in model.seen[2][-1]["content"]
    again = ScriptedModel(answer("Could you please provide the key?"), answer("Could you please provide the key?"))
    assert (await run(again, task="Look up x.")).text == "Could you please provide the key?"


async def test_a_chain_of_corrections_ends_by_taking_a_soft_problem_as_the_answer() -> None:
    replies = ["I will check that for you.", "Could you please provide the key?", "Look up x.",
               "Here's the corrected call:"]  # an undone step, a question, the task echoed, no call after all
    model = ScriptedModel(*(answer(text) for text in replies))
    result = await run(model, task="Look up x.")
    assert result.stop_reason == "done" and result.text == replies[-1] and result.model_turns == 4


async def test_a_change_claimed_but_never_made_is_sent_back_and_ends_the_run_if_claimed_after_a_correction() -> None:
    model = ScriptedModel(answer("The numbers have been added: 3."), calls(("add", {"a": 1, "b": 2})),
                          answer("1 + 2 is 3."))
    result = await run(model, task="Add 1 and 2.")
    assert result.text == "1 + 2 is 3." and "no call of add has worked" in model.seen[1][-1]["content"]
    claims = ScriptedModel(answer("I will add them."), answer("The numbers have been added: 3."))
    ended = await run(claims, task="Add 1 and 2.")
    assert ended.stop_reason == "error" and ended.error.kind == "claimed_change"
    assert "said a change was made that no call made" in ended.text


async def test_a_refusal_right_after_an_error_is_told_the_error_and_to_fix_the_call() -> None:
    model = ScriptedModel(calls(("lookup", {"key": "missing"})), answer("I'm sorry, but I can't assist with that."),
                          calls(("lookup", {"key": "x"})), answer("x is 41."))
    result = await run(model)
    assert result.text == "x is 41." and [s.ok for s in result.steps] == [False, True]
    note = model.seen[2][-1]["content"]
    assert 'gave up after the error "lookup failed: no such key"' in note and "Fix that call" in note


async def test_a_call_repeated_after_another_call_succeeded_runs_again() -> None:
    lookup, runs = counting_lookup()
    model = ScriptedModel(calls(("lookup", {"key": "x"})), calls(("lookup", {"key": "y"})),
                          calls(("lookup", {"key": "x"})), calls(("lookup", {"key": "x"})), answer("41"))
    result = await run(model, toolbox(lookup=lookup))
    assert runs == ["x", "y", "x"]  # the other call may have changed what x reads
    assert [s.repeated for s in result.steps] == [False, False, False, True]


async def test_a_failed_call_sent_again_unchanged_is_run_and_the_model_told_it_failed_the_same_way() -> None:
    model = ScriptedModel(calls(("lookup", {"key": "missing"})), calls(("lookup", {"key": "missing"})),
                          calls(("lookup", {"key": "x"})), answer("41"))
    result = await run(model)
    first, second, third = tool_results(result.messages)
    assert first == "Error: lookup failed: no such key"
    assert "no such key" in second and second.endswith(FAILED_AGAIN_NOTE)
    assert third == "41" and [s.ok for s in result.steps] == [False, False, True]


async def test_identical_calls_in_one_reply_run_once() -> None:
    model = ScriptedModel(calls(*[("lookup", {"key": "x"})] * 5, ("lookup", {"key": "y"}), ("lookup", '{"key":"y"}')),
                          answer("41 and 1"))
    result = await run(model)
    assert [s.arguments for s in result.steps] == [{"key": "x"}, {"key": "y"}]
    assistant = model.seen[1][-3]
    assert [c["id"] for c in assistant["tool_calls"]] == ["call_0", "call_5"]  # every kept call has its result
    assert tool_results(model.seen[1]) == ["41", "1"]


async def test_giving_up_at_a_temporary_error_is_answered_with_that_tool_forced() -> None:
    answers = iter([{"content": [{"type": "text", "text": "search is temporarily unavailable (503)"}], "isError": True},
                    {"content": [{"type": "text", "text": '{"price": 45}'}]}])

    async def host(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return next(answers)

    specs = [ToolSpec(name="search", description="Search products", input_schema={"type": "object"})]
    model = ScriptedModel(calls(("search", {"query": "stove"})), answer("The stove is not available right now."),
                          calls(("search", {"query": "stove"})), answer("The stove costs 45."))
    result = await run(model, toolbox(host, specs), task="How much is the camp stove?")
    assert result.text == "The stove costs 45." and [s.ok for s in result.steps] == [False, True]
    assert model.tool_choices == [None, None, "search", None]
    assert "which says the failure is temporary" in model.seen[2][-1]["content"]


async def test_a_failed_call_with_a_made_up_id_is_told_the_value_appears_nowhere() -> None:
    async def host(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        if arguments == {"user_id": "u_7"}:
            return {"content": [{"type": "text", "text": '{"email": "a@b.c"}'}]}
        return {"content": [{"type": "text", "text": "no such user"}], "isError": True}

    specs = [ToolSpec(name="get_user", description="A user by id", input_schema={"type": "object"}),
             ToolSpec(name="find_user", description="Search users", input_schema={"type": "object"})]
    model = ScriptedModel(calls(("get_user", {"user_id": "u_12345"}), ("find_user", {"name": "nobody", "reason": "x"})),
                          calls(("get_user", {"userId": "u_8"})), calls(("get_user", {"user_id": "u_7"})),
                          answer("a@b.c"))
    result = await run(model, toolbox(host, specs), task="Email of Ann? Her id is u_7 or u_8.")
    guessed, free_text, seen_in_task, found = tool_results(result.messages)
    assert "user_id='u_12345' appears nowhere" in guessed and "find the real value" in guessed
    assert free_text == "Error: no such user"  # no id among its arguments
    assert seen_in_task == "Error: no such user"  # u_8 is in the task: a wrong id, not a made-up one
    assert found == '{"email": "a@b.c"}' and result.text == "a@b.c"


async def test_a_call_with_a_made_up_id_before_any_id_was_shown_is_asked_again_held_to_lookups() -> None:
    ran: list[tuple[str, dict[str, Any]]] = []

    async def host(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        ran.append((name, arguments))
        return {"content": [{"type": "text", "text": '{"id": "u_7", "email": "a@b.c"}'}]}

    by_id = {"type": "object", "properties": {"user_id": {"type": "string"}}, "required": ["user_id"]}
    by_name = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    specs = [ToolSpec(name="get_user", description="A user by id", input_schema=by_id),
             ToolSpec(name="find_user", description="A user by name", input_schema=by_name)]
    model = ScriptedModel(calls(("get_user", {"user_id": "u_12345"})),
                          ModelTurn(content='{"name": "find_user", "arguments": {"name": "Ann"}}'),
                          answer("a@b.c"), grounds=True)
    result = await run(model, toolbox(host, specs), task="What is Ann's email?")
    assert ran == [("find_user", {"name": "Ann"})] and result.text == "a@b.c"
    held = model.call_schemas[1]["anyOf"]
    assert "get_user" not in {o["properties"]["name"]["const"] for o in held}
    assert {"find_user", "lookup"} <= {o["properties"]["name"]["const"] for o in held}
    assert model.call_schemas[0] is None and model.call_schemas[2] is None
    assert [m["tool_calls"][0]["function"]["name"] for m in result.messages
            if m["role"] == "assistant" and m.get("tool_calls")] == ["find_user"]


async def test_a_made_up_id_runs_as_it_is_once_the_run_has_shown_an_id() -> None:
    model = ScriptedModel(calls(("lookup", {"key": "x", "order_id": "o_1"})), answer("41"), grounds=True)
    result = await run(model, task="Look up x for order o_2.")
    assert model.call_schemas == [None, None] and [s.tool for s in result.steps] == ["lookup"]


async def test_a_made_up_id_runs_as_it_is_where_the_model_cannot_be_held_to_a_schema() -> None:
    model = ScriptedModel(calls(("lookup", {"key": "x", "order_id": "o_1"})), answer("41"))
    result = await run(model)
    assert model.call_schemas == [None, None] and [s.tool for s in result.steps] == ["lookup"]


async def test_a_refusal_after_a_call_that_worked_is_replaced_by_a_nudge_once() -> None:
    refusal = "I'm sorry, but I can't assist with that."
    model = ScriptedModel(calls(("lookup", {"key": "x"})), answer(refusal), answer("x is 41."))
    result = await run(model)
    assert result.text == "x is 41."
    assert [m["role"] for m in model.seen[2][-3:]] == ["assistant", "tool", "user"]  # the refusal left out
    assert "succeeded" in model.seen[2][-1]["content"]
    model = ScriptedModel(calls(("lookup", {"key": "x"})), answer(refusal), answer(refusal))
    assert (await run(model)).text == refusal


async def test_a_reply_that_only_says_what_it_will_do_is_asked_to_do_it_once() -> None:
    intent = "I will translate 'thank you' into Spanish."
    model = ScriptedModel(answer(intent), answer("Gracias."))
    result = await run(model, task="Translate 'thank you' into Spanish.")
    assert result.text == "Gracias." and result.steps == []
    note = model.seen[1][-1]["content"]
    assert "I will translate" in note and "nothing was done" in note and '"name"' not in note  # no example call
    model = ScriptedModel(answer(intent), answer(intent))
    assert (await run(model, task="Translate 'thank you' into Spanish.")).text == intent  # said again: taken
