"""Tool calls that a model wrote into its text instead of the `tool_calls` field.

vLLM and Ollama without a tool parser pass the model's raw output through, e.g.
`<tool_call>{"name": "calculate", "arguments": {"expression": "2+2"}}</tool_call>` (Hermes/Qwen style).
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

from sidekick.agent.chat import ToolCall

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCED = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def _as_call(obj: Any, known: set[str]) -> tuple[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    name = obj.get("name")
    if not isinstance(name, str) or name not in known:
        return None
    arguments = obj.get("arguments", obj.get("parameters", {}))
    return name, arguments


def parse_text_tool_calls(content: str | None, known_tools: Iterable[str]) -> tuple[list[ToolCall], str]:
    """Find tool calls in `content`; returns the calls and the text that remains around them.

    Tagged calls are taken for any known tool; an untagged reply is a call only when the whole reply is
    one JSON object naming a known tool (so ordinary JSON answers are left alone).
    """
    if not content:
        return [], content or ""
    known = set(known_tools)
    calls: list[ToolCall] = []
    if "<tool_call>" in content:
        for body in _TAGGED.findall(content):
            try:
                found = _as_call(json.loads(body), known)
            except ValueError:
                found = None
            if found:
                calls.append(ToolCall(id="", name=found[0], arguments=found[1]))
        if calls:
            return calls, _TAGGED.sub("", content).strip()
        return [], content
    stripped = content.strip()
    fenced = _FENCED.match(stripped)
    candidate = fenced.group(1) if fenced else stripped
    if candidate.startswith("{") and candidate.endswith("}"):
        try:
            found = _as_call(json.loads(candidate), known)
        except ValueError:
            found = None
        if found:
            return [ToolCall(id="", name=found[0], arguments=found[1])], ""
    return [], content
