"""The small interface between the loop and a chat model (`model_settings` says where its settings come from)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sidekick.run_protocol import Usage


@dataclass
class ToolCall:
    """A call the model asked for. `arguments` is the raw text the model produced (maybe not JSON);
    an empty `id` means the endpoint gave none (the loop assigns one)."""

    id: str
    name: str
    arguments: Any


@dataclass
class ModelTurn:
    """One answer of the model: text, tool calls, or both."""

    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str | None = None


class ChatModel(Protocol):
    """Anything that turns a transcript and tool specs into the model's next turn.

    Implementations raise `sidekick.errors.ModelError` for endpoint failures and nothing else. The loop
    passes `tool_choice` (the name of the one tool the reply is to call) only when it forces a call; a
    model that cannot force one may ignore it. It passes `call_schema` (the JSON schema of a call written as
    `{"name": …, "arguments": …}`, from `sidekick.agent.grounding`) only to a model whose optional
    `grounds_calls()` says it can hold the reply to one.
    """

    async def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                       timeout_s: float | None, tool_choice: str | None = None,
                       call_schema: dict[str, Any] | None = None) -> ModelTurn: ...

    async def prompt_budget(self, tools: list[dict[str, Any]]) -> int | None:
        """Estimated tokens (`sidekick.agent.tokens`) the messages may use with these tools, or None when the
        context window is unknown."""
        ...
