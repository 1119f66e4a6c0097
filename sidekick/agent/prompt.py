"""The system prompt of a run: what the sidekick is, the host's extra instructions, and its context."""

from __future__ import annotations

import json
from typing import Any

from sidekick.agent.wire import RunParams

BASE_INSTRUCTIONS = (
    "You are a careful assistant with tools. Work step by step: call a tool when it helps, read its result, "
    "and decide the next step from what it returned. Use the calculate tool for arithmetic instead of "
    "computing in your head. When a tool fails, read the error and correct the call or try another way. "
    "When you have what the task needs, answer plainly and concisely without calling more tools."
)
MAX_CONTEXT_CHARS = 8_000


def render_context(context: dict[str, Any]) -> str:
    """Host facts as `key: value` lines; nested values as compact JSON."""
    lines = []
    for key, value in context.items():
        if value is None or value == "" or value == [] or value == {}:
            continue
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        lines.append(f"- {key}: " + shown.strip().replace("\n", "\n  "))  # keep multi-line values in the item
    text = "\n".join(lines)
    return text if len(text) <= MAX_CONTEXT_CHARS else text[:MAX_CONTEXT_CHARS] + "\n…(context cut)"


def system_prompt(params: RunParams) -> str:
    parts = [BASE_INSTRUCTIONS]
    if params.system:
        parts.append(params.system.strip())
    if params.context:
        rendered = render_context(params.context)
        if rendered:
            parts.append("Context from the host:\n" + rendered)
    return "\n\n".join(parts)
