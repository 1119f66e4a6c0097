"""Keep the transcript sent to the model within a character budget.

Tool results are the bulk of a growing transcript, and the oldest matter least: they are shortened first.
Then whole earlier conversation turns are dropped, oldest first. The system message, the current task
and the pairing of tool calls with their results are never broken.
"""

from __future__ import annotations

from typing import Any

MIN_KEPT_CHARS = 200


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


def fit_transcript(messages: list[dict[str, Any]], budget: int, protected_from: int) -> list[dict[str, Any]]:
    """A copy of `messages` within `budget` characters.

    `protected_from` is the index of the current task's user message: messages before it are earlier
    turns (droppable), messages from it on belong to this run (tool results shortenable).
    """
    total = sum(message_chars(m) for m in messages)
    if total <= budget:
        return messages
    fitted = [dict(m) for m in messages]
    for message in fitted:
        if total <= budget:
            break
        if message.get("role") != "tool" or not isinstance(message.get("content"), str):
            continue
        before = len(message["content"])
        keep = max(MIN_KEPT_CHARS, before - (total - budget))
        if keep < before:
            message["content"] = shorten(message["content"], keep)
            total -= before - len(message["content"])
    start = 1 if fitted and fitted[0].get("role") == "system" else 0
    while total > budget and start < protected_from:
        # Drop one earlier turn: a message plus any tool results that answer it.
        dropped = fitted.pop(start)
        total -= message_chars(dropped)
        protected_from -= 1
        while start < protected_from and fitted[start].get("role") == "tool":
            total -= message_chars(fitted.pop(start))
            protected_from -= 1
    return fitted
