"""A scripted ChatModel: each step is a turn (or a function of the transcript that returns one).

It fails loudly on a call the script did not expect, and, by default, on steps never used: every model made in
a test is checked when the test ends (tests/conftest.py); `allow_unused=True` for a script meant to be cut short.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Union

from sidekick.agent.chat import ModelTurn, ToolCall
from sidekick.run_protocol import Usage

Step = Union[ModelTurn, Callable[[list[dict[str, Any]]], ModelTurn]]


def answer(text: str, tokens: int = 10) -> ModelTurn:
    return ModelTurn(content=text, usage=Usage(prompt_tokens=tokens, completion_tokens=1, total_tokens=tokens + 1))


def calls(*pairs: tuple[str, Any], content: str | None = None, tokens: int = 10) -> ModelTurn:
    return ModelTurn(content=content, tool_calls=[ToolCall(f"call_{i}", name, args) for i, (name, args) in
                                                  enumerate(pairs)],
                     usage=Usage(prompt_tokens=tokens, completion_tokens=1, total_tokens=tokens + 1))


class ScriptedModel:
    made: list[ScriptedModel] = []  # this test's models, checked and cleared when it ends

    def __init__(self, *steps: Step, budget: int | None = None, allow_unused: bool = False,
                 grounds: bool = False) -> None:
        self.steps = list(steps)
        self.grounds = grounds  # what grounds_calls() answers: whether a call's schema holds the reply
        self.budget = budget  # what prompt_budget() answers: None is an unknown context window
        self.allow_unused = allow_unused
        ScriptedModel.made.append(self)
        self.seen: list[list[dict[str, Any]]] = []
        self.tools_seen: list[list[dict[str, Any]]] = []
        self.tool_choices: list[str | None] = []  # the tool each call forced, if any
        self.call_schemas: list[dict[str, Any] | None] = []  # the call schema each call was held to, if any
        self.started = asyncio.Event()

    async def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                       timeout_s: float | None, tool_choice: str | None = None,
                       call_schema: dict[str, Any] | None = None) -> ModelTurn:
        self.started.set()
        self.tool_choices.append(tool_choice)
        self.call_schemas.append(call_schema)
        if len(self.seen) >= len(self.steps):
            raise AssertionError(f"unexpected model call #{len(self.seen) + 1}; last message: {messages[-1]}")
        step = self.steps[len(self.seen)]
        self.seen.append([dict(m) for m in messages])
        self.tools_seen.append(tools)
        return step(messages) if callable(step) else step

    def grounds_calls(self) -> bool:
        return self.grounds

    async def prompt_budget(self, tools: list[dict[str, Any]]) -> int | None:
        return self.budget

    def assert_used_up(self) -> None:
        assert len(self.seen) == len(self.steps), f"{len(self.steps) - len(self.seen)} scripted step(s) unused"
