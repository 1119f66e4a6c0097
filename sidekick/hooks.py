"""Run hooks: what observers (progress, usage metrics, tracing) see of a run, whatever framework runs it.

A consumer is any object with some of the `on_*` methods of `RunHooks` (subclassing it is a convenience).
Each method gets one event. `HookSet` fans an event out to the consumers that listen to it; a consumer that
raises is logged and never breaks the run. Events are small slotted records built only when someone
listens, so a run nobody observes pays nothing beyond an empty-list check per event.

Who sends what: the run (build_run) sends run start and end; the model and toolbox a framework is given
send model-call and tool-call events by themselves; a framework that talks to its model some other way
(langgraph) sends the model-call events itself. `on_progress` carries a framework's own words about its
progress (the native loop's "model asked for calculate"); frameworks that say nothing get progress derived
from their model and tool events instead (`sidekick.runs.progress`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:
    from sidekick.run_protocol import RunParams, RunResult, Usage

log = logging.getLogger("sidekick.hooks")


@dataclass(slots=True)
class RunStarted:
    run_id: str
    framework: str
    params: RunParams
    model: str | None  # the model's name, when its provider says it


@dataclass(slots=True)
class RunEnded:
    run_id: str
    framework: str
    result: RunResult | None  # None when the run was cancelled
    duration_ms: float


@dataclass(slots=True)
class ModelCallStarted:
    run_id: str
    turn: int  # 1 for the run's first model call
    messages: int  # how many messages were sent
    tools: int  # how many tools were offered


@dataclass(slots=True)
class ModelCallEnded:
    run_id: str
    turn: int
    duration_ms: float
    usage: Usage | None = None
    tool_calls: tuple[str, ...] = ()  # names of the calls the endpoint returned as structured calls
    finish_reason: str | None = None
    error: str | None = None  # the error's kind ("timeout", "rate_limit", …) or class name; None when it answered
    tool_call_ids: tuple[str | None, ...] = ()  # the ids of those calls, in the same order (tracing pairs them)


@dataclass(slots=True)
class ToolCallStarted:
    run_id: str
    name: str
    source: str  # "builtin", "host" or "unknown"
    arguments: dict[str, Any]


@dataclass(slots=True)
class ToolCallEnded:
    run_id: str
    name: str
    source: str
    arguments: dict[str, Any]
    ok: bool
    duration_ms: float
    error: str | None = None  # the error class: "tool_error", "host_error", "unknown_tool" or an exception's name
    preview: str = ""  # the start of the result the model will read


@dataclass(slots=True)
class ProgressNote:
    run_id: str
    message: str


class RunHooks:
    """A consumer that ignores everything: subclass it and override what you need."""

    def on_run_start(self, event: RunStarted) -> None: ...
    def on_run_end(self, event: RunEnded) -> None: ...
    def on_model_call_start(self, event: ModelCallStarted) -> None: ...
    def on_model_call_end(self, event: ModelCallEnded) -> None: ...
    def on_tool_call_start(self, event: ToolCallStarted) -> None: ...
    def on_tool_call_end(self, event: ToolCallEnded) -> None: ...
    def on_progress(self, event: ProgressNote) -> None: ...


EVENTS = ("on_run_start", "on_run_end", "on_model_call_start", "on_model_call_end", "on_tool_call_start",
          "on_tool_call_end", "on_progress")


def _listeners(consumers: Iterable[object], event: str) -> list[Callable[[Any], None]]:
    found = []
    for consumer in consumers:
        method = getattr(consumer, event, None)
        if method is None or getattr(type(consumer), event, None) is getattr(RunHooks, event):
            continue  # absent, or RunHooks' own no-op
        found.append(method)
    return found


class HookSet(RunHooks):
    """The hooks of one run: every consumer, reached through one object with `RunHooks`' methods.

    `model_calls` and `tool_calls` say whether anyone listens to those events, so the model and toolbox
    wrappers can skip timing and event building when nobody does.
    """

    def __init__(self, run_id: str, consumers: Iterable[object] = ()) -> None:
        self.run_id = run_id
        self.consumers = list(consumers)
        self._by_event = {event: _listeners(self.consumers, event) for event in EVENTS}
        self.model_calls = bool(self._by_event["on_model_call_start"] or self._by_event["on_model_call_end"])
        self.tool_calls = bool(self._by_event["on_tool_call_start"] or self._by_event["on_tool_call_end"])

    def listens(self, event: str) -> bool:
        """Whether any consumer handles `event` (an `on_*` name)."""
        return bool(self._by_event[event])

    def _send(self, event: str, value: Any) -> None:
        for listener in self._by_event[event]:
            try:
                listener(value)
            except Exception:  # an observer's bug must not change the run it observes
                log.exception("run hook %s failed", getattr(listener, "__qualname__", listener))

    def on_run_start(self, event: RunStarted) -> None:
        self._send("on_run_start", event)

    def on_run_end(self, event: RunEnded) -> None:
        self._send("on_run_end", event)

    def on_model_call_start(self, event: ModelCallStarted) -> None:
        self._send("on_model_call_start", event)

    def on_model_call_end(self, event: ModelCallEnded) -> None:
        self._send("on_model_call_end", event)

    def on_tool_call_start(self, event: ToolCallStarted) -> None:
        self._send("on_tool_call_start", event)

    def on_tool_call_end(self, event: ToolCallEnded) -> None:
        self._send("on_tool_call_end", event)

    def on_progress(self, event: ProgressNote) -> None:
        self._send("on_progress", event)

    def progress(self, message: str) -> None:
        """Report a framework's own words about its progress."""
        if self._by_event["on_progress"]:
            self._send("on_progress", ProgressNote(self.run_id, message))
