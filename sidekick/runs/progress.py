"""Progress as a run-hook consumer: each step of a run becomes one numbered message (`notifications/progress`
for a host that asked, the live view of `sidekick run`)."""

from __future__ import annotations

from typing import Callable

from sidekick.hooks import ModelCallEnded, ProgressNote, RunHooks, ToolCallEnded

Report = Callable[[int, str], None]


class ProgressHooks(RunHooks):
    """Passes on the framework's own words (`hooks.progress(message)`), numbered from 1."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.count = 0

    def say(self, message: str) -> None:
        self.count += 1
        self.report(self.count, message)

    def on_progress(self, event: ProgressNote) -> None:
        self.say(event.message)


class DerivedProgress(ProgressHooks):
    """For a framework that says nothing itself: one message per model reply and per tool result."""

    def on_model_call_end(self, event: ModelCallEnded) -> None:
        if event.error is not None:
            self.say(f"model call failed ({event.error})")
        elif event.tool_calls:
            self.say("model asked for " + ", ".join(event.tool_calls))
        else:
            self.say("model replied")

    def on_tool_call_end(self, event: ToolCallEnded) -> None:
        self.say(f"{event.name} → {'ok' if event.ok else 'error'}: {' '.join(event.preview.split())[:80]}")
