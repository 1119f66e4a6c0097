"""The model and the toolbox a framework is given, reporting each call to the run's hooks.

They wrap only when someone listens to those events (`HookSet.model_calls`, `.tool_calls`), so a run that
nobody observes calls the model and its tools exactly as before.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sidekick.agent.toolbox import Toolbox
from sidekick.hooks import HookSet, ModelCallEnded, ModelCallStarted, ToolCallEnded, ToolCallStarted

if TYPE_CHECKING:
    from sidekick.agent.chat import ChatModel, ModelTurn
    from sidekick.tools.base import ToolOutput

PREVIEW_CHARS = 200
ERROR_CLASSES = {"builtin": "tool_error", "host": "host_error", "unknown": "unknown_tool"}


def _error_name(exc: BaseException) -> str:
    return getattr(exc, "kind", None) or type(exc).__name__


class ObservedModel:
    """A `ChatModel` that reports every `complete()`; anything else (`.settings`) is the wrapped model's."""

    def __init__(self, model: ChatModel, hooks: HookSet) -> None:
        self.model = model
        self.hooks = hooks
        self.turns = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    async def prompt_budget(self, tools: list[dict[str, Any]]) -> int | None:
        return await self.model.prompt_budget(tools)

    async def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                       timeout_s: float | None, **forcing: Any) -> ModelTurn:
        hooks = self.hooks
        self.turns += 1
        turn_number = self.turns
        hooks.on_model_call_start(ModelCallStarted(hooks.run_id, turn_number, len(messages), len(tools)))
        begun = time.perf_counter()
        try:
            turn = await self.model.complete(messages, tools, timeout_s, **forcing)
        except BaseException as exc:  # cancellation too: a span must end
            hooks.on_model_call_end(ModelCallEnded(hooks.run_id, turn_number, (time.perf_counter() - begun) * 1000,
                                                   error=_error_name(exc)))
            raise
        hooks.on_model_call_end(ModelCallEnded(
            hooks.run_id, turn_number, (time.perf_counter() - begun) * 1000, turn.usage,
            tuple(call.name for call in turn.tool_calls), turn.finish_reason,
            tool_call_ids=tuple(call.id for call in turn.tool_calls)))
        return turn


@dataclass
class ObservedToolbox(Toolbox):
    """A `Toolbox` that reports every call: its name, source, outcome, duration and error class."""

    hooks: HookSet | None = None

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolOutput:
        hooks = self.hooks
        assert hooks is not None
        source = self.source(name)
        hooks.on_tool_call_start(ToolCallStarted(hooks.run_id, name, source, arguments))
        begun = time.perf_counter()
        try:
            output = await super().call(name, arguments)
        except BaseException as exc:  # the host went away, or the run was cancelled
            hooks.on_tool_call_end(ToolCallEnded(hooks.run_id, name, source, arguments, False,
                                                 (time.perf_counter() - begun) * 1000, _error_name(exc)))
            raise
        hooks.on_tool_call_end(ToolCallEnded(
            hooks.run_id, name, source, arguments, not output.is_error, (time.perf_counter() - begun) * 1000,
            ERROR_CLASSES[source] if output.is_error else None, output.text[:PREVIEW_CHARS]))
        return output
