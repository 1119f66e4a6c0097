"""Progress as a hook consumer: a framework's own words, or words derived from its model and tool calls."""

from __future__ import annotations

from sidekick.hooks import HookSet, ModelCallEnded, ToolCallEnded
from sidekick.runs.progress import DerivedProgress, ProgressHooks


def test_a_narrating_framework_is_passed_on_numbered_and_its_calls_are_not_repeated() -> None:
    said: list[tuple[int, str]] = []
    hooks = HookSet("r", [ProgressHooks(lambda n, m: said.append((n, m)))])
    assert not hooks.model_calls and not hooks.tool_calls  # so the model and tools are not even wrapped
    hooks.progress("model asked for calculate")
    hooks.progress("calculate → ok: 4")
    assert said == [(1, "model asked for calculate"), (2, "calculate → ok: 4")]


def test_a_silent_framework_gets_one_message_per_reply_and_per_result() -> None:
    said: list[str] = []
    hooks = HookSet("r", [DerivedProgress(lambda n, m: said.append(f"{n} {m}"))])
    hooks.on_model_call_end(ModelCallEnded("r", 1, 5.0, tool_calls=("fetch_url", "calculate")))
    hooks.on_tool_call_end(ToolCallEnded("r", "fetch_url", "builtin", {}, True, 9.0, preview="Title: A\n\n  report"))
    hooks.on_tool_call_end(ToolCallEnded("r", "calculate", "builtin", {}, False, 1.0, "tool_error", "bad"))
    hooks.on_model_call_end(ModelCallEnded("r", 2, 5.0))
    hooks.on_model_call_end(ModelCallEnded("r", 3, 5.0, error="timeout"))
    assert said == ["1 model asked for fetch_url, calculate", "2 fetch_url → ok: Title: A report",
                    "3 calculate → error: bad", "4 model replied", "5 model call failed (timeout)"]
