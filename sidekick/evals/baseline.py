"""The `upfront` baseline: the host framework's habit of choosing every action before seeing any result.

One chat completion with the tools picks the calls; the harness executes every call it returned against the
trial's database; then one more completion, without tools and without any tool result (the model is only
told its actions were carried out), writes the answer. Nothing from a result ever reaches the model.

It talks to the endpoint with the `openai` client directly rather than through a `sidekick/run`: the
baseline stands for the host's own pipeline, which never passes through the sidekick, and a one-step run
would still need a second run with a doctored transcript to write the answer. What is shared with the loop
on purpose: the endpoint, the model, the domain policy as system prompt, the same tool specs, the same
reading of tool calls a model writes as text, and the same error mapping.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sidekick.agent.chat import ModelTurn
from sidekick.evals.suite import Environment, Suite, Task

UPFRONT_NOTE = ("Choose every action the request needs now, in this one reply: the actions you choose are "
                "carried out after you reply, and you will not see their results.")
ANSWER_PROMPT = "The actions you chose have been carried out. Now write your final reply to the customer."


@dataclass
class UpfrontOutcome:
    answer: str
    tool_calls: int
    completions: int
    usage: dict[str, int] = field(default_factory=dict)


def _describe(name: str, arguments: Any) -> str:
    shown = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return f"{name}({shown})"


class UpfrontBaseline:
    """Runs baseline trials against one OpenAI-compatible endpoint; `close()` when done."""

    def __init__(self, base_url: str, api_key: str, model: str, temperature: float | None = None,
                 timeout_s: float = 120.0, max_tokens: int | None = None) -> None:
        from sidekick.agent.chat import ResolvedModelSettings, resolve_max_tokens
        from sidekick.agent.openai_model import OpenAIChatModel

        self.settings = ResolvedModelSettings(base_url=base_url, model=model, api_key=api_key,
                                              temperature=temperature, request_timeout_s=timeout_s,
                                              max_tokens=resolve_max_tokens(max_tokens))
        self.model = OpenAIChatModel(self.settings)  # the loop's own adapter: same requests, errors, parsing
        self._registry: Any = None

    async def close(self) -> None:
        """Nothing to release: the adapter shares the loop's pooled clients."""

    async def _complete(self, messages: list[dict[str, Any]], specs: list[dict[str, Any]],
                        usage: dict[str, int]) -> ModelTurn:
        turn = await self.model.complete(messages, specs, None)
        if turn.usage is not None:
            for key, value in turn.usage.model_dump().items():
                usage[key] = usage.get(key, 0) + value
        return turn

    async def trial(self, suite: Suite, task: Task, environment: Environment) -> UpfrontOutcome:
        from sidekick.agent.loop import parse_arguments
        from sidekick.agent.reply import read_reply

        specs = suite.tool_specs(task) + self._builtin_specs(task)
        domain = {s["name"] for s in suite.tool_specs(task)}
        messages = [{"role": "system", "content": f"{suite.system_prompt}\n\n{UPFRONT_NOTE}"},
                    {"role": "user", "content": task.instruction}]
        usage: dict[str, int] = {}
        turn = await self._complete(messages, specs, usage)
        reply = read_reply(turn, [s["name"] for s in specs])
        content, calls = reply.text, [(c.name, c.arguments) for c in reply.calls]
        if not calls:
            return UpfrontOutcome(content or "", 0, 1, usage)
        for name, raw in calls:
            arguments, problem = parse_arguments(raw)
            if problem is not None:
                continue  # the host could not run it either
            if name in domain:
                environment.call(name, arguments or {})
            elif name in task.builtins:
                await self._registry_for().call(name, arguments or {})
        chosen = "; ".join(_describe(name, raw) for name, raw in calls)
        messages += [{"role": "assistant", "content": (content + "\n\n" if content else "") + f"Actions: {chosen}"},
                     {"role": "user", "content": ANSWER_PROMPT}]
        answer = (await self._complete(messages, [], usage)).content
        return UpfrontOutcome("\n".join(t for t in (content, answer) if t), len(calls), 2, usage)

    def _registry_for(self) -> Any:
        if self._registry is None:
            from sidekick.tools import build_registry

            self._registry = build_registry(load_plugins=False)
        return self._registry

    def _builtin_specs(self, task: Task) -> list[dict[str, Any]]:
        return self._registry_for().specs(task.builtins) if task.builtins else []
