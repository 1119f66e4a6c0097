"""Keep the transcript sent to the model within a budget: characters, or estimated tokens of a context window.

Tool results are the bulk of a growing transcript, and the oldest matter least: they are shortened first.
Then whole earlier conversation turns are dropped, oldest first. The system message, the current task
and the pairing of tool calls with their results are never broken.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

from sidekick.agent.tokens import estimate_tokens, message_tokens

if TYPE_CHECKING:
    from sidekick.agent.chat import ChatModel

MIN_KEPT_CHARS = 200
SHORTEN_TRIES = 3  # a token estimate is not linear in characters: cut again if the first cut fell short

Size = Callable[[dict[str, Any]], int]


def message_chars(message: dict[str, Any]) -> int:
    size = len(message.get("content") or "") if isinstance(message.get("content"), str) else \
        len(str(message.get("content") or ""))
    for call in message.get("tool_calls") or ():
        function = call.get("function", {})
        size += len(function.get("name", "")) + len(function.get("arguments") or "")
    return size


def shorten(text: str, keep: int) -> str:
    if len(text) <= keep:
        return text
    return text[:keep] + f"\n…[{len(text) - keep} more characters cut to fit the transcript budget]"


def fit_by(messages: list[dict[str, Any]], budget: int, protected_from: int, size: Size,
           text_size: Callable[[str], int] = len) -> list[dict[str, Any]]:
    """A copy of `messages` whose `size`s sum to at most `budget` where the rules allow (else as close as
    they allow); `messages` itself when it already fits.

    `size` measures a message and `text_size` a tool result's text, in the same unit. `protected_from` is the
    index of the current task's user message: messages before it are earlier turns (droppable), messages
    from it on belong to this run (tool results shortenable).
    """
    sizes = [size(m) for m in messages]
    total = sum(sizes)
    if total <= budget:
        return messages
    fitted = [dict(m) for m in messages]
    for index, message in enumerate(fitted):
        if total <= budget:
            break
        if message.get("role") != "tool" or not isinstance(message.get("content"), str):
            continue
        original = message["content"]
        keep = len(original)
        for _ in range(SHORTEN_TRIES):
            units = text_size(message["content"])
            if total <= budget or keep <= MIN_KEPT_CHARS or units <= 0:
                break
            # The excess in size units, as characters at this text's own density.
            cut = math.ceil((total - budget) * len(message["content"]) / units)
            keep = max(MIN_KEPT_CHARS, keep - cut)
            message["content"] = shorten(original, keep)
            before, sizes[index] = sizes[index], size(message)
            total -= before - sizes[index]
            if text_size is len:
                break  # characters are exact: one cut is the whole answer
    start = 1 if fitted and fitted[0].get("role") == "system" else 0
    while total > budget and start < protected_from:
        # Drop one earlier turn: a message plus any tool results that answer it.
        fitted.pop(start)
        total -= sizes.pop(start)
        protected_from -= 1
        while start < protected_from and fitted[start].get("role") == "tool":
            fitted.pop(start)
            total -= sizes.pop(start)
            protected_from -= 1
    return fitted


def fit_transcript(messages: list[dict[str, Any]], budget: int, protected_from: int) -> list[dict[str, Any]]:
    """A copy of `messages` within `budget` characters (see `fit_by`)."""
    return fit_by(messages, budget, protected_from, message_chars)


def fit_to_tokens(messages: list[dict[str, Any]], budget_tokens: int, protected_from: int) -> list[dict[str, Any]]:
    """A copy of `messages` within `budget_tokens` estimated tokens (see `fit_by` and `sidekick.agent.tokens`)."""
    return fit_by(messages, budget_tokens, protected_from, message_tokens, estimate_tokens)


async def fitted(model: ChatModel, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                 protected_from: int, budget_chars: int | None = None) -> list[dict[str, Any]]:
    """`messages` within `budget_chars` characters (when given), then within what the model's context window
    leaves for the prompt beside `tools`; the token fit is skipped when the window is unknown (or the model
    has no `prompt_budget`)."""
    if budget_chars is not None:
        shorter = fit_transcript(messages, budget_chars, protected_from)
        protected_from -= len(messages) - len(shorter)  # only earlier turns are ever dropped
        messages = shorter
    budget_of = getattr(model, "prompt_budget", None)
    budget = None if budget_of is None else await budget_of(tools)
    return messages if budget is None else fit_to_tokens(messages, budget, protected_from)
