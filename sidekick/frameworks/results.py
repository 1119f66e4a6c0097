"""What every framework's result needs alike: the text of a run cut short, an exception as the run's error,
and a transcript whose every tool call has its result."""

from __future__ import annotations

import logging
from typing import Any

from sidekick.run_protocol import RunError, StopReason
from sidekick.errors import RpcError

log = logging.getLogger("sidekick.frameworks")

STOP_REASONS = {"max_steps": "it reached its step limit", "timeout": "it ran out of time",
                "token_budget": "it used up its token budget"}


def stopped_text(stop: StopReason, tool_calls: int, last_text: str = "", error: RunError | None = None) -> str:
    """The answer of a run that ended before a final answer (the native loop's wording)."""
    if stop == "error" and error is not None:
        text = f"The run failed: {error.message}"
    else:
        done = f" after {tool_calls} tool call(s)" if tool_calls else ""
        text = f"The run stopped{done} because {STOP_REASONS.get(stop, stop)}, before a final answer."
    if last_text:
        text += f" The model's last words: {last_text}"
    return text


def run_error(exc: BaseException) -> RunError:
    """A run's error: ours (model endpoint, configuration, host gone) as they are, anything else internal."""
    if isinstance(exc, RpcError):
        log.warning("run ended with an error: %s", exc.message)
        return RunError(code=exc.code, message=exc.message, kind=getattr(exc, "kind", None))
    log.error("run failed unexpectedly", exc_info=exc)
    return RunError(code=-32603, message=f"internal error ({type(exc).__name__})", kind="internal")


def close_open_calls(messages: list[dict[str, Any]], why: str) -> None:
    """Append a result to every tool call still without one: the transcript must stay valid for a next turn."""
    answered = {m.get("tool_call_id") for m in messages if m.get("role") == "tool"}
    for message in list(messages):
        for call in message.get("tool_calls") or () if message.get("role") == "assistant" else ():
            if call.get("id") not in answered:
                messages.append({"role": "tool", "tool_call_id": call.get("id"), "content": why})
