"""Run hooks: one HookSet reaches every consumer that listens, skips those that do not, survives a broken one."""

from __future__ import annotations

import logging

import pytest

from sidekick.hooks import HookSet, ModelCallEnded, ProgressNote, RunHooks, ToolCallEnded


class Tools(RunHooks):
    def __init__(self) -> None:
        self.ended: list[ToolCallEnded] = []

    def on_tool_call_end(self, event: ToolCallEnded) -> None:
        self.ended.append(event)


class Plain:  # not a RunHooks: any object with some of the methods is a consumer
    def __init__(self) -> None:
        self.said: list[str] = []

    def on_progress(self, event: ProgressNote) -> None:
        self.said.append(event.message)


def test_events_reach_only_the_consumers_that_listen() -> None:
    tools, plain = Tools(), Plain()
    hooks = HookSet("run-7", [tools, plain, RunHooks()])
    assert hooks.tool_calls and not hooks.model_calls
    assert hooks.listens("on_progress") and not hooks.listens("on_run_start")
    event = ToolCallEnded("run-7", "calculate", "builtin", {}, True, 1.5)
    hooks.on_tool_call_end(event)
    hooks.on_model_call_end(ModelCallEnded("run-7", 1, 2.0))
    hooks.progress("model answered")
    assert tools.ended == [event] and plain.said == ["model answered"]


def test_a_consumer_that_raises_is_logged_and_the_others_still_hear(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(RunHooks):
        def on_progress(self, event: ProgressNote) -> None:
            raise RuntimeError("observer bug")

    plain = Plain()
    with caplog.at_level(logging.ERROR, "sidekick.hooks"):
        HookSet("r", [Broken(), plain]).progress("step")
    assert plain.said == ["step"] and "run hook" in caplog.text and "observer bug" in caplog.text


def test_nobody_listening_costs_no_event() -> None:
    hooks = HookSet("r")
    assert not (hooks.model_calls or hooks.tool_calls or hooks.listens("on_progress"))
    hooks.progress("nobody hears this")
