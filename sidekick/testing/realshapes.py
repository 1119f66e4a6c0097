"""What a real small model sends, recorded from Qwen2.5-Coder 1.5B and 0.5B behind `llama-server --jinja`
(temperature 0, the shop suite), as scripted-server replies: offline tests and the `textual` eval model
meet the same shapes the real model wrote.

The model almost never fills `tool_calls`; it writes the call into `content`. Each form below renders a
turn's calls the way one of its replies did.
"""

from __future__ import annotations

import json
from typing import Any, Callable

Calls = list[tuple[str, dict[str, Any]]]


def _call(name: str, arguments: dict[str, Any], indent: int | None = None) -> str:
    return json.dumps({"name": name, "arguments": arguments}, indent=indent, ensure_ascii=False)


def fenced(calls: Calls) -> str:
    """The 1.5B's habit: one pretty-printed call per ```json fence."""
    return "\n\n".join(f"```json\n{_call(n, a, indent=2)}\n```" for n, a in calls)


def bare(calls: Calls) -> str:
    """The 0.5B's habit: bare objects, one per line."""
    return "\n".join(_call(n, a) for n, a in calls)


def doubled_braces(calls: Calls) -> str:
    return "\n".join("{" + _call(n, a) + "}" for n, a in calls)


def tools_wrapper(calls: Calls) -> str:
    return "<tools>\n" + "\n".join(_call(n, a) for n, a in calls) + "\n</tools>"


def bare_then_fenced(calls: Calls) -> str:
    first, *rest = calls
    return _call(*first) + ("\n```json\n" + "\n".join(_call(n, a) for n, a in rest) + "\n```" if rest else "")


def comma_separated(calls: Calls) -> str:
    return ",\n".join(_call(n, a) for n, a in calls)


def fence_in_prose(calls: Calls) -> str:
    return ("To answer this I need to look it up first.\n\n```json\n" + "\n".join(_call(n, a) for n, a in calls)
            + "\n```\n\nOnce I have the result I will tell you.")


def hermes(calls: Calls) -> str:
    """What the chat template asks for, and what the model writes once corrected."""
    return "\n".join(f"<tool_call>\n{_call(n, a)}\n</tool_call>" for n, a in calls)


TEXT_FORMS: tuple[Callable[[Calls], str], ...] = (
    fenced, bare, doubled_braces, tools_wrapper, bare_then_fenced, comma_separated, fence_in_prose, hermes)


def look_alike(calls: Calls) -> str:
    """A call to a tool name the run does not offer (the model's own spelling of it)."""
    name, arguments = calls[0]
    return f"```json\n{_call(name.replace('_', '') + 's', arguments, indent=2)}\n```"


def invented_result(calls: Calls) -> str:
    """A made-up tool response with an answer after it, and no call."""
    return '<tool_response>\n{"status": "ok"}\n</tool_response>\nDone: everything you asked for is taken care of.'


def delegated(calls: Calls) -> str:
    """After a tool result, the model tells the user which call to make instead of making it (1.5B, clinic)."""
    name, arguments = calls[0]
    return f"To do this, you need to call the `{name}` function with {json.dumps(arguments, ensure_ascii=False)}."


def call_follows(calls: Calls) -> str:
    """After a tool error, the model promises a corrected call and sends none (1.5B, clinic)."""
    return ("To fix the call, you need to provide the correct values. Here's the corrected call:\n\n"
            "This should now return what you asked for.")


UNUSABLE_FORMS: tuple[Callable[[Calls], str], ...] = (look_alike, invented_result, delegated, call_follows)


def context_overflow(prompt_tokens: int, n_ctx: int = 8192) -> dict[str, Any]:
    """llama.cpp's answer to a prompt longer than a slot's context."""
    return {"status": 400, "body": {"error": {
        "code": 400, "message": f"request ({prompt_tokens} tokens) exceeds the available context size "
                                f"({n_ctx} tokens), try increasing it",
        "type": "exceed_context_size_error", "n_prompt_tokens": prompt_tokens, "n_ctx": n_ctx}}}
