"""`upfront`: the host-framework habit of choosing every action before seeing any result, as a framework.

One model call, with the tools, picks every call; they run one after another, in the order given; then one
more call, without tools and without any tool result (the model is only told its actions were carried out),
writes the answer. Nothing from a result ever reaches the model. It is the A/B baseline of `sidekick eval`
and can be chosen in production too (`framework: "upfront"`) to compare against `native`.

The returned transcript is the run as it happened (the calls, their real results, the answer), so a host can
continue the conversation; the answer request itself never contained the results.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

from sidekick.run_protocol import RunError, RunParams, RunResult, Step, StopReason, Usage
from sidekick.frameworks.results import close_open_calls, run_error, stopped_text

if TYPE_CHECKING:
    from sidekick.agent.chat import ChatModel, ToolCall
    from sidekick.agent.toolbox import Toolbox
    from sidekick.hooks import HookSet

UPFRONT_NOTE = ("Choose every action the request needs now, in this one reply: the actions you choose are "
                "carried out after you reply, and you will not see their results.")
ANSWER_PROMPT = "The actions you chose have been carried out. Now write your final reply to the customer."
DEFAULT_SYSTEM = "You are a careful assistant with tools."
PREVIEW_CHARS = 200
MAX_RESULT_CHARS = 16_000


def upfront_system(params: RunParams) -> str:
    """The host's instructions (or a plain default), the host's context, then the up-front rule."""
    from sidekick.agent.prompt import render_context

    parts = [params.system.strip() if params.system else DEFAULT_SYSTEM]
    if params.context and (rendered := render_context(params.context)):
        parts.append("Context from the host:\n" + rendered)
    parts.append(UPFRONT_NOTE)
    return "\n\n".join(parts)


def _describe(call: ToolCall) -> str:
    shown = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments, ensure_ascii=False)
    return f"{call.name}({shown})"


class _Run:
    def __init__(self, params: RunParams, toolbox: Toolbox, model: ChatModel, hooks: HookSet) -> None:
        self.params, self.toolbox, self.model, self.say = params, toolbox, model, hooks.progress
        self.transcript: list[dict[str, Any]] = []
        self.steps: list[Step] = []
        self.usage = Usage()
        self.turns = 0
        self.content = ""
        self.answer = ""
        self.deadline = None if params.timeout_ms is None else time.monotonic() + params.timeout_ms / 1000

    async def _complete(self, messages: list[dict[str, Any]], specs: list[dict[str, Any]]) -> Any:
        remaining = None if self.deadline is None else max(0.001, self.deadline - time.monotonic())
        turn = await self.model.complete(messages, specs, remaining)
        self.turns += 1
        if turn.usage is not None:
            self.usage.add(turn.usage)
        return turn

    async def go(self) -> StopReason:
        from sidekick.agent.reply import read_reply

        specs = self.toolbox.specs()
        history = [m for m in (self.params.messages or []) if m.get("role") != "system"]
        task = {"role": "user", "content": self.params.task}
        messages = [{"role": "system", "content": upfront_system(self.params)}, *history, task]
        self.transcript.append(task)
        reply = read_reply(await self._complete(messages, specs), [s["name"] for s in specs])
        self.content, calls = reply.text or "", reply.calls
        seen: set[str] = set()
        for index, call in enumerate(calls):  # endpoints may omit ids, and calls written as text have none
            if not call.id or call.id in seen:
                call.id = f"call_1_{index}"
            seen.add(call.id)
        self.transcript.append({"role": "assistant", "content": self.content or None, **({"tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": _arguments_text(c.arguments)}}
            for c in calls]} if calls else {})})
        if not calls:
            self.answer = self.content
            self.say("model answered")
            return "done"
        self.say("model chose up front: " + ", ".join(c.name for c in calls))
        if self.params.token_budget is not None and self.usage.total_tokens >= self.params.token_budget:
            return "token_budget"
        for call in calls:
            await self._run_call(call)
        if self.params.max_steps < 2:
            return "max_steps"
        chosen = "; ".join(_describe(c) for c in calls)
        asked = [*messages, {"role": "assistant", "content": (self.content + "\n\n" if self.content else "") +
                             f"Actions: {chosen}"}, {"role": "user", "content": ANSWER_PROMPT}]
        answer = (await self._complete(asked, [])).content or ""
        self.transcript.append({"role": "assistant", "content": answer})
        self.say("model answered without seeing the results")
        self.answer = "\n".join(t for t in (self.content, answer) if t)
        return "done"

    async def _run_call(self, call: ToolCall) -> None:
        from sidekick.agent.loop import parse_arguments
        from sidekick.tools.base import ToolOutput

        begun = time.perf_counter()
        arguments, problem = parse_arguments(call.arguments)
        if problem is not None:  # the host could not have run it either
            output = ToolOutput(f"Could not call {call.name}: {problem}.", is_error=True)
        else:
            output = await self.toolbox.call(call.name, arguments or {})
        text = output.text[:MAX_RESULT_CHARS]
        self.transcript.append({"role": "tool", "tool_call_id": call.id, "content": text})
        self.steps.append(Step(tool=call.name, arguments=arguments if arguments is not None else call.arguments,
                               ok=not output.is_error, preview=text[:PREVIEW_CHARS],
                               duration_ms=round((time.perf_counter() - begun) * 1000, 3),
                               source=self.toolbox.source(call.name)))
        shown = " ".join(text[:PREVIEW_CHARS].split())[:80]
        self.say(f"{call.name} → {'error' if output.is_error else 'ok'}: {shown}")


def _arguments_text(raw: Any) -> str:
    if isinstance(raw, str):
        return raw or "{}"
    return json.dumps(raw if raw is not None else {}, ensure_ascii=False)


class UpfrontFramework:
    """One call picks every action, the answer is written without their results."""

    name = "upfront"
    narrates = True

    async def run(self, params: RunParams, toolbox: Toolbox, model: ChatModel, hooks: HookSet) -> RunResult:
        started = time.perf_counter()
        run = _Run(params, toolbox, model, hooks)
        error: RunError | None = None
        try:
            work = run.go()
            stop = await (work if params.timeout_ms is None else asyncio.wait_for(work, params.timeout_ms / 1000))
        except asyncio.TimeoutError:
            stop = "timeout"
        except Exception as exc:
            stop, error = "error", run_error(exc)
        if stop != "done":
            close_open_calls(run.transcript, f"not run: the run stopped ({stop})")
        text = run.answer if stop == "done" else stopped_text(stop, len(run.steps), run.content, error)
        return RunResult(text=text, stop_reason=stop, steps=run.steps,
                         tools_used=list(dict.fromkeys(s.tool for s in run.steps)), usage=run.usage,
                         messages=run.transcript, model_turns=run.turns,
                         duration_ms=round((time.perf_counter() - started) * 1000, 3), error=error)
