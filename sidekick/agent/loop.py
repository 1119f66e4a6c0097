"""The native tool-calling loop: the model sees every tool result before it picks its next step."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from sidekick.agent.chat import ChatModel, ModelTurn, ToolCall
from sidekick.agent.grounding import call_schema, decision_schema, shows_an_id, unseen_ids
from sidekick.run_protocol import RunError, RunParams, RunResult, Step, StopReason, Usage
from sidekick.agent.prompt import (DECISION_FORMAT, FAILED_AGAIN_NOTE, REPEATED_CALL_NOTE, REPEATED_CALLS_NOTE,
                                   correction, guessed_value_note, system_prompt)
from sidekick.agent.reply import SOFT_PROBLEMS, Reply, RunSoFar, echoes, read_reply
from sidekick.agent.toolbox import Toolbox
from sidekick.agent.transcript import fitted
from sidekick.errors import ContextOverflowError, ModelError, RpcError
from sidekick.tools.base import ToolOutput
from sidekick.codec import loads_strict

log = logging.getLogger("sidekick.agent")

MAX_TOOL_RESULT_CHARS = 16_000
PREVIEW_CHARS = 200
MAX_PARALLEL_TOOLS = 8
FORCING_PROBLEMS = {"announced_call", "gave_up_at_transient_error"}  # those whose tool the next turn is made to call
MAX_CORRECTIONS_IN_A_ROW = 3  # past it, a soft problem is taken as the answer it may be
UNUSABLE_REPLY = {
    "malformed_call": "The model's reply looked like a tool call but could not be used, also after a correction",
    "invented_tool_result": "The model wrote a tool result itself instead of calling the tool, also after a "
                            "correction",
    "max_tokens": "The model's reply was cut off at its length limit (max_tokens), also after a correction",
    "no_answer": "The model gave an empty reply, also after a correction",
    "echoed_correction": "The model wrote back the correction it was sent instead of a reply",
    "claimed_change": "The model said a change was made that no call made, also after a correction",
}

Progress = Callable[[int, str], None]


def _no_progress(step: int, message: str) -> None:
    pass


@dataclass
class RunState:
    """Everything a run has produced so far; a run cut short still answers from it."""

    messages: list[dict[str, Any]]
    task_index: int
    steps: list[Step] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    last_text: str = ""
    answer: str = ""
    model_turns: int = 0
    note_at: int | None = None  # where the correction the model is answering sits in `messages`
    force_tool: str | None = None  # the tool the next model turn is to call (tool_choice)
    forced: set[str] = field(default_factory=set)  # tools forced since the last usable reply
    corrected: set[str] = field(default_factory=set)  # the problems corrected since the last usable reply
    decide: bool = False  # the next turn is to be held to calls or an answer (`decision_schema`) if the model can
    call_ids: set[str] = field(default_factory=set)
    # Call key → its result, for calls repeated before anything else has run: a call that succeeded since may
    # have changed what the earlier ones would return (an order read again after its quantity changed).
    succeeded: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # call key → its last error, for repeated failures

    @property
    def just_corrected(self) -> bool:
        """The previous model turn was not usable and got a correction instead of a place in the transcript."""
        return self.note_at is not None

    def drop_note(self) -> None:
        if self.note_at is not None:
            del self.messages[self.note_at:]
            self.note_at = None

    def new_messages(self) -> list[dict[str, Any]]:
        return self.messages[self.task_index:]

    def so_far(self, task: str) -> RunSoFar:
        """What the model has been shown (earlier turns of the conversation too), for reading its next reply."""
        texts = [m["content"] if isinstance(m.get("content"), str) else "" for m in self.messages]
        last = self.messages[-1]
        tool_calls = [c for m in self.messages for c in m.get("tool_calls") or ()]
        functions = [c.get("function") or {} for c in tool_calls]
        names = {c.get("id"): f.get("name") for c, f in zip(tool_calls, functions)}
        return RunSoFar(task=task, results=[text for m, text in zip(self.messages, texts) if m.get("role") == "tool"],
                        last_result=texts[-1] if last.get("role") == "tool" else None,
                        last_tool=names.get(last.get("tool_call_id")) if last.get("role") == "tool" else None,
                        called={f.get("name") for f in functions},
                        arguments=[_arguments_text(f.get("arguments")) for f in functions],
                        succeeded={names.get(m.get("tool_call_id")) for m, text in zip(self.messages, texts)
                                   if m.get("role") == "tool" and not text.startswith("Error")})


def parse_arguments(raw: Any) -> tuple[dict[str, Any] | None, str | None]:
    """Decode a tool call's arguments. Null or empty means no arguments; anything else must be an object."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}, None
    if isinstance(raw, dict):
        return raw, None
    if isinstance(raw, str):
        try:
            value = loads_strict(raw)
        except (ValueError, RecursionError) as exc:
            return None, f"the arguments are not valid JSON ({exc}); send a JSON object matching the schema"
        if value is None:
            return {}, None
        if isinstance(value, dict):
            return value, None
        return None, f"the arguments must be a JSON object, got {type(value).__name__}"
    return None, f"the arguments must be a JSON object, got {type(raw).__name__}"


def _call_key(name: str, arguments: dict[str, Any] | None) -> str:
    return name + json.dumps(arguments or {}, sort_keys=True, ensure_ascii=False, default=str)


def _distinct_calls(calls: list[ToolCall]) -> list[ToolCall]:
    """One reply's calls without exact repeats: a small model sometimes writes the same call dozens of times
    in one reply, and every copy's result would crowd the context."""
    seen: set[str] = set()
    distinct = []
    for call in calls:
        arguments, problem = parse_arguments(call.arguments)
        key = _call_key(call.name, arguments) if problem is None else call.name + _arguments_text(call.arguments)
        if key not in seen:
            seen.add(key)
            distinct.append(call)
    return distinct


def _read_text(messages: list[dict[str, Any]]) -> Callable[[], str]:
    """The messages' contents as one text, joined on first use only (it is needed after a failed call)."""
    @functools.cache
    def text() -> str:
        return "\n".join(m["content"] if isinstance(m.get("content"), str) else
                         json.dumps(m.get("content"), ensure_ascii=False, default=str) for m in messages)
    return text


def _arguments_text(raw: Any) -> str:
    if isinstance(raw, str):
        return raw or "{}"
    return json.dumps(raw if raw is not None else {}, ensure_ascii=False)


def _assistant_message(turn: ModelTurn, calls: list[ToolCall], text: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = [{"id": c.id, "type": "function",
                                  "function": {"name": c.name, "arguments": _arguments_text(c.arguments)}}
                                 for c in calls]
    return message


class UnusableReply(ModelError):
    """The model's reply was neither a usable call nor an answer, also after a correction."""


class AgentLoop:
    """Runs one task to its end. Cancellation (of the awaiting task) propagates; limits end the run."""

    def __init__(self, model: ChatModel, toolbox: Toolbox, progress: Progress = _no_progress) -> None:
        self.model = model
        self.toolbox = toolbox
        self.progress = progress
        self._progress_count = 0

    async def run(self, params: RunParams) -> RunResult:
        started = time.perf_counter()
        specs = self.toolbox.specs()
        history = [m for m in (params.messages or []) if m.get("role") != "system"]
        messages = [{"role": "system", "content": system_prompt(params, [s["name"] for s in specs])}, *history,
                    {"role": "user", "content": params.task}]
        state = RunState(messages=messages, task_index=len(messages) - 1)
        stop: StopReason = "done"
        error: RunError | None = None
        deadline = None if params.timeout_ms is None else time.monotonic() + params.timeout_ms / 1000
        try:
            turns = self._turns(params, specs, state, deadline)
            stop = await (turns if deadline is None else asyncio.wait_for(turns, params.timeout_ms / 1000))
        except asyncio.TimeoutError:
            stop = "timeout"
        except UnusableReply as exc:
            stop = "error"
            error = RunError(code=exc.code, message=exc.message, kind=exc.kind)
        except RpcError as exc:  # model endpoint, configuration, host gone
            stop = "error"
            error = RunError(code=exc.code, message=exc.message, kind=getattr(exc, "kind", None))
            log.warning("run ended with an error: %s", exc.message)
        except Exception as exc:  # a bug of ours must still answer with what the run has so far
            log.exception("run failed unexpectedly")
            stop = "error"
            error = RunError(code=-32603, message=f"internal error ({type(exc).__name__})", kind="internal")
        state.drop_note()  # a correction the run ended before the model answered is no part of its transcript
        if stop != "done":
            self._close_open_calls(state, f"not run: the run stopped ({stop})")
        text = state.answer if stop == "done" else self._fallback_text(stop, state, error)
        tools_used = list(dict.fromkeys(step.tool for step in state.steps))
        return RunResult(text=text, stop_reason=stop, steps=state.steps, tools_used=tools_used,
                         usage=state.usage, messages=state.new_messages(), model_turns=state.model_turns,
                         duration_ms=round((time.perf_counter() - started) * 1000, 3), error=error)

    def _fallback_text(self, stop: StopReason, state: RunState, error: RunError | None) -> str:
        if stop == "error" and error is not None:
            text = f"The run failed: {error.message}"
        else:
            done = f" after {len(state.steps)} tool call(s)" if state.steps else ""
            reasons = {"max_steps": "it reached its step limit", "timeout": "it ran out of time",
                       "token_budget": "it used up its token budget"}
            text = f"The run stopped{done} because {reasons.get(stop, stop)}, before a final answer."
        if state.last_text:
            text += f" The model's last words: {state.last_text}"
        return text

    def _report(self, message: str) -> None:
        self._progress_count += 1
        self.progress(self._progress_count, message)

    async def _turns(self, params: RunParams, specs: list[dict[str, Any]], state: RunState,
                     deadline: float | None) -> StopReason:
        names = [s["name"] for s in specs]
        for _ in range(params.max_steps):
            turn = await self._complete(params, specs, state, deadline)
            state.model_turns += 1
            if turn.usage is not None:
                state.usage.add(turn.usage)
            if log.isEnabledFor(logging.DEBUG):
                log.debug("model turn %d: %r, calls %s", state.model_turns, (turn.content or "")[:2000],
                          [(c.name, c.arguments) for c in turn.tool_calls])
            reply = read_reply(turn, names, state.so_far(params.task))
            note = state.messages[state.note_at]["content"] if state.note_at is not None else ""
            if note and not reply.calls and echoes(reply.text, note):  # as an answer, it would be the loop's words
                reply.problem, reply.detail = "echoed_correction", f'"{reply.text[:80]}…"'
            if reply.problem in SOFT_PROBLEMS and state.just_corrected and not self._may_force(reply, state) and (
                    reply.problem in state.corrected or len(state.corrected) >= MAX_CORRECTIONS_IN_A_ROW):
                reply.problem = None  # said again after its correction: taken as the answer it may be
            if reply.problem is not None:
                self._correct(reply, specs, params, state)
                if params.token_budget is not None and state.usage.total_tokens >= params.token_budget:
                    return "token_budget"
                continue
            state.drop_note()  # it did its work; left in, the model answered later turns with empty replies
            state.forced.clear()
            state.corrected.clear()
            if reply.calls:
                reply = await self._grounded(reply, params, specs, state, deadline) or reply
            reply.calls = _distinct_calls(reply.calls)
            self._give_unique_ids(reply.calls, state)
            # The prose around calls written as text stays out of the transcript: shown its own "Here's the
            # call:" with the call cut out, the 1.5B wrote that hole again instead of a call; shown only the
            # calls, it went on with calls.
            spoken = None if reply.path == "text" else reply.text
            state.messages.append(_assistant_message(turn, reply.calls, spoken))
            if reply.text:
                state.last_text = reply.text
            if not reply.calls:
                state.answer = reply.text
                self._report("model answered")
                return "done"
            self._report("model asked for " + ", ".join(c.name for c in reply.calls))
            if params.token_budget is not None and state.usage.total_tokens >= params.token_budget:
                self._answer_unrun(state, reply.calls, "not run: the token budget is used up")
                return "token_budget"
            if not await self._run_calls(reply.calls, state) and self._grounds():
                # Only repeats: the 1.5B, shown its results again, made the same calls again and again. Told to
                # answer, held to calls or an answer, it answered.
                state.decide = True
                state.note_at = len(state.messages)
                state.messages.append({"role": "user", "content": f"{REPEATED_CALLS_NOTE} {DECISION_FORMAT}"})
        return "max_steps"

    async def _grounded(self, reply: Reply, params: RunParams, specs: list[dict[str, Any]], state: RunState,
                        deadline: float | None) -> Reply | None:
        """The turn asked again, held to the tools that need no id, when a call made up an id before the run
        has shown any and the endpoint can hold a reply to a schema: the made-up call never runs."""
        if not self._grounds():
            return None
        seen = _read_text(state.messages)
        made_up = [pair for call in reply.calls for pair in unseen_ids(parse_arguments(call.arguments)[0], seen)]
        if not made_up:
            return None
        shown = [m["content"] for m in state.messages if isinstance(m.get("content"), str) and (
            m.get("role") in ("system", "user") or (m.get("role") == "tool" and not m["content"].startswith("Error")))]
        names = [s["name"] for s in specs]
        schema = None if shows_an_id(shown, besides=names) else call_schema(specs, needing_no_id=True)
        if schema is None:  # an id was shown (the call may hold a wrong one), or every tool needs an id
            return None
        log.info("a call made up %s before the run showed any id; asked again held to the tools needing none",
                 ", ".join(f"{name}={value!r}" for name, value in made_up[:3]))
        turn = await self._complete(params, specs, state, deadline, schema)
        state.model_turns += 1
        if turn.usage is not None:
            state.usage.add(turn.usage)
        again = read_reply(turn, names, state.so_far(params.task))
        return again if again.calls and again.problem is None else None

    def _grounds(self) -> bool:
        grounds = getattr(self.model, "grounds_calls", None)
        return grounds is not None and grounds()

    async def _complete(self, params: RunParams, specs: list[dict[str, Any]], state: RunState,
                        deadline: float | None, schema: dict[str, Any] | None = None) -> ModelTurn:
        """One model turn on the transcript fitted to the endpoint's window, held to a call's `schema` if given.
        An overflow (the window was unknown, or the estimate low) has taught the adapter the window: the
        second fit holds."""
        def remaining() -> float | None:
            return None if deadline is None else max(0.001, deadline - time.monotonic())

        forcing: dict[str, Any] = {"tool_choice": state.force_tool} if state.force_tool else {}
        if schema is None and state.decide and not state.force_tool and self._grounds():
            schema = decision_schema(call_schema(specs))
        if schema is not None:
            forcing["call_schema"] = schema
        state.force_tool = None
        state.decide = False

        async def send() -> ModelTurn:
            sent = await fitted(self.model, state.messages, specs, state.task_index, params.transcript_budget_chars)
            return await self.model.complete(sent, specs, remaining(), **forcing)

        try:
            return await send()
        except ContextOverflowError as exc:
            log.info("context overflow (%s); shrinking the transcript and trying once more", exc.message)
        return await send()

    @staticmethod
    def _may_force(reply: Reply, state: RunState) -> bool:
        """A reply that says it will call a named tool and does not, or gives up at a temporary error of one: the
        next turn is made to call it (`tool_choice`), once per tool between usable replies."""
        return reply.problem in FORCING_PROBLEMS and reply.tool is not None and reply.tool not in state.forced

    def _correct(self, reply: Reply, specs: list[dict[str, Any]], params: RunParams, state: RunState) -> None:
        """Send an unusable reply back with what was wrong. A hard problem right after a correction ends the run;
        a soft one gets its own correction (said again after it, it was taken as the answer). A reply announcing
        a call of a named tool is sent back with that tool forced, once per tool."""
        forced = self._may_force(reply, state)
        if state.just_corrected and not forced and reply.problem not in SOFT_PROBLEMS:
            state.drop_note()
            raise UnusableReply(f"{UNUSABLE_REPLY[reply.problem or 'no_answer']}: {reply.detail}.",
                                kind=reply.problem or "no_answer")
        # The reply itself never enters the transcript and a chain keeps only its latest note: shown its own
        # prose about a call, the 1.5B wrote it again word for word (also with the call forced); without it,
        # it made the call.
        state.drop_note()
        if forced:
            state.force_tool = reply.tool
            state.forced.add(reply.tool)
        state.corrected.add(reply.problem or "no_answer")
        max_tokens = params.model.max_tokens if params.model else None
        note = correction(reply.problem or "no_answer", reply.detail, specs, max_tokens, reply.tool)
        if not forced and self._grounds():
            state.decide = True
            note += " " + DECISION_FORMAT
        state.note_at = len(state.messages)
        state.messages.append({"role": "user", "content": note})
        log.info("reply not usable (%s: %s); asked again%s", reply.problem, reply.detail,
                 f", with a call of {reply.tool} forced" if forced else "")
        self._report(f"model reply not usable ({reply.problem}): asked again")

    @staticmethod
    def _give_unique_ids(calls: list[ToolCall], state: RunState) -> None:
        # Endpoints may omit ids, and text-written calls have none: a repeated id would pair a result
        # with the wrong call and leave the returned transcript invalid.
        for index, call in enumerate(calls):
            if not call.id or call.id in state.call_ids:
                call.id = f"call_{state.model_turns}_{index}"
            state.call_ids.add(call.id)

    def _answer_unrun(self, state: RunState, calls: list[ToolCall], why: str) -> None:
        # Every tool call needs a result message, or the transcript is invalid for the next turn.
        for call in calls:
            state.messages.append({"role": "tool", "tool_call_id": call.id, "content": why})

    def _close_open_calls(self, state: RunState, why: str) -> None:
        answered = {m.get("tool_call_id") for m in state.new_messages() if m.get("role") == "tool"}
        open_calls = [ToolCall(c["id"], c["function"]["name"], None)
                      for m in state.new_messages() if m.get("role") == "assistant"
                      for c in m.get("tool_calls") or () if c["id"] not in answered]
        self._answer_unrun(state, open_calls, why)

    async def _run_calls(self, calls: list[ToolCall], state: RunState) -> bool:
        """Run the calls and add their results; False when every one was a repeat, which brought nothing new."""
        limit = asyncio.Semaphore(MAX_PARALLEL_TOOLS)

        async def one(call: ToolCall) -> tuple[ToolOutput, dict[str, Any] | None, float, bool]:
            async with limit:
                begun = time.perf_counter()
                arguments, problem = parse_arguments(call.arguments)
                if problem is not None:
                    output = ToolOutput(f"Could not call {call.name}: {problem}.", is_error=True)
                elif (earlier := state.succeeded.get(_call_key(call.name, arguments))) is not None:
                    # Small models call the same thing again instead of answering; the run does not repeat
                    # the call (nor its side effects) and says so. A failed call may be retried.
                    return ToolOutput(f"{earlier}\n{REPEATED_CALL_NOTE}"), arguments, 0.0, True
                else:
                    output = await self.toolbox.call(call.name, arguments or {})
                return output, arguments, (time.perf_counter() - begun) * 1000, False

        tasks = [asyncio.ensure_future(one(c)) for c in calls]
        try:
            results = await asyncio.gather(*tasks)
        except BaseException:  # e.g. the host went away: the sibling calls must not run on unobserved
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        earlier = _read_text(state.messages[:-1])  # what the model had seen before this reply's calls
        fresh: dict[str, str] = {}
        for call, (output, arguments, duration_ms, repeated) in zip(calls, results):
            text = output.text if len(output.text) <= MAX_TOOL_RESULT_CHARS else \
                output.text[:MAX_TOOL_RESULT_CHARS] + f"\n…[{len(output.text) - MAX_TOOL_RESULT_CHARS} more cut]"
            key = _call_key(call.name, arguments)
            if output.is_error:
                # The error alone: a small model answers a "fix the call" hint by telling the user how to fix
                # it. It does send a failed call again unchanged, and the same error twice says so.
                content = text if text.startswith("Error") else "Error: " + text
                if state.failed.get(key) == text:
                    content += "\n" + FAILED_AGAIN_NOTE
                elif guessed := unseen_ids(arguments, earlier):
                    content += "\n" + guessed_value_note(guessed)
                state.failed[key] = text
            else:
                content = text
            state.messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
            if not output.is_error and not repeated:
                fresh[key] = text
            step = Step(tool=call.name, arguments=arguments if arguments is not None else call.arguments,
                        ok=not output.is_error, preview=text[:PREVIEW_CHARS], duration_ms=round(duration_ms, 3),
                        source=self.toolbox.source(call.name), repeated=repeated)
            state.steps.append(step)
            self._report(f"{call.name} → {'ok' if step.ok else 'error'}: {' '.join(step.preview.split())[:80]}")
        if fresh:
            state.succeeded = fresh
        return not all(repeated for *_, repeated in results)
