"""What one model turn amounts to: tool calls (native or written as text), an answer, or a reply the loop
cannot use and must send back with a correction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Literal, Optional

from sidekick.agent.chat import ModelTurn, ToolCall
from sidekick.agent.textcalls import parse_text_tool_calls

ReplyProblem = Literal["malformed_call", "invented_tool_result", "max_tokens", "no_answer"]


@dataclass
class Reply:
    """`path` says where the calls came from: the endpoint's `tool_calls` ("native") or the text."""

    calls: list[ToolCall] = field(default_factory=list)
    text: str = ""
    problem: Optional[ReplyProblem] = None
    detail: str = ""
    path: Literal["native", "text", "none"] = "none"


def read_reply(turn: ModelTurn, tool_names: Iterable[str]) -> Reply:
    """Calls first (native, else written in the text), then an answer; anything else is a problem."""
    content = turn.content or ""
    if turn.tool_calls:
        return Reply(turn.tool_calls, content.strip(), path="native")
    reading = parse_text_tool_calls(content, tool_names)
    if reading.calls:
        return Reply(reading.calls, reading.text, path="text")
    if reading.problem is not None:
        cut = " (the reply was cut off at the length limit)" if turn.finish_reason == "length" else ""
        return Reply(text=content, problem=reading.problem, detail=reading.detail + cut)
    if turn.finish_reason == "length":
        return Reply(text=content, problem="max_tokens", detail="the reply was cut off at the length limit")
    if not content.strip():
        return Reply(problem="no_answer", detail="the reply was empty")
    return Reply(text=content.strip())
