"""One way to build a run, whoever asks for it: `sidekick/run`, the MCP tool `run_task`, `sidekick run`, and
`sidekick eval` (through `sidekick/run`). `build_run` resolves the framework, checks the run's tools, gets
the model from its provider and assembles the hooks; `Run.execute()` runs it once.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

from pydantic import ValidationError

from sidekick.agent.toolbox import HostCaller, Toolbox
from sidekick.run_protocol import RunParams, RunResult, Step, StopReason, Usage
from sidekick.errors import ConfigurationError, InvalidParams, describe_validation_error
from sidekick.frameworks import BUILTIN_FRAMEWORKS, Framework, default_framework, get_framework
from sidekick.frameworks.results import run_error, stopped_text
from sidekick.hooks import HookSet, ModelCallEnded, RunEnded, RunHooks, RunStarted, ToolCallEnded
from sidekick.providers import chat_model
from sidekick.runs.observed import ObservedModel, ObservedToolbox
from sidekick.runs.progress import DerivedProgress, ProgressHooks
from sidekick.usage import run_consumers

if TYPE_CHECKING:
    from sidekick.agent.chat import ChatModel
    from sidekick.tools.base import ToolRegistry

BACKSTOP_GRACE_S = 5.0  # a plugin framework that overruns timeoutMs is cut off this much later
_run_ids = itertools.count(1)


def run_tools(params: RunParams, registry: ToolRegistry) -> list[str]:
    """The built-in tools the run may use; invalid params for unknown ones and bad or clashing host tools."""
    from sidekick.tools.base import TOOL_NAME, tool_name_problem  # loaded with the registry already

    builtin = registry.names() if params.tools is None else params.tools
    unknown = [name for name in builtin if name not in registry.tools]
    if unknown:
        raise InvalidParams(f"Invalid params: unknown tool(s) {', '.join(unknown)}; "
                            f"available: {', '.join(registry.names())}")
    host_names = [tool.name for tool in params.host_tools or []]
    bad = [n for n in host_names if tool_name_problem(n) is not None]
    clashes = sorted({n for n in host_names if n in builtin or host_names.count(n) > 1})
    if bad or clashes:
        raise InvalidParams("Invalid params: hostTools: " + "; ".join(
            ([f"names must match {TOOL_NAME.pattern} (got {', '.join(map(repr, bad))})"] if bad else []) +
            ([f"{', '.join(clashes)} clash with another tool of this run"] if clashes else [])))
    return builtin


class RunRecorder(RunHooks):
    """What a plugin framework did, as the hooks saw it: the result of a run it did not end itself."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.usage = Usage()
        self.turns = 0

    def on_model_call_end(self, event: ModelCallEnded) -> None:
        self.turns += 1
        if event.usage is not None:
            self.usage.add(event.usage)

    def on_tool_call_end(self, event: ToolCallEnded) -> None:
        self.steps.append(Step(tool=event.name, arguments=event.arguments, ok=event.ok, preview=event.preview,
                               duration_ms=round(event.duration_ms, 3), source=event.source))

    def result(self, params: RunParams, stop: StopReason, started: float,
               exc: BaseException | None = None) -> RunResult:
        error = run_error(exc) if exc is not None else None
        return RunResult(text=stopped_text(stop, len(self.steps), error=error), stop_reason=stop, steps=self.steps,
                         tools_used=list(dict.fromkeys(s.tool for s in self.steps)), usage=self.usage,
                         messages=[{"role": "user", "content": params.task}], model_turns=self.turns,
                         duration_ms=round((time.perf_counter() - started) * 1000, 3), error=error)


@dataclass
class Run:
    """One run, ready to go: `await run.execute()`."""

    framework_name: str
    framework: Framework
    params: RunParams
    toolbox: Toolbox
    model: ChatModel
    hooks: HookSet
    recorder: RunRecorder | None = None  # for a plugin framework: its limits are enforced from outside

    async def execute(self) -> RunResult:
        """Run the task; only cancellation propagates (the run-end hook sees it as a result of None)."""
        hooks, started = self.hooks, time.perf_counter()
        if hooks.listens("on_run_start"):
            model = getattr(getattr(self.model, "settings", None), "model", None)
            hooks.on_run_start(RunStarted(hooks.run_id, self.framework_name, self.params, model))
        result: RunResult | None = None
        try:
            if self.recorder is None:
                result = await self.framework.run(self.params, self.toolbox, self.model, hooks)
            else:
                result = await self._run_plugin(self.recorder, started)
        finally:
            if hooks.listens("on_run_end"):
                hooks.on_run_end(RunEnded(hooks.run_id, self.framework_name, result,
                                          round((time.perf_counter() - started) * 1000, 3)))
        assert result is not None
        return result

    async def _run_plugin(self, recorder: RunRecorder, started: float) -> RunResult:
        timeout_ms = self.params.timeout_ms
        try:
            work = self.framework.run(self.params, self.toolbox, self.model, self.hooks)
            value = await (work if timeout_ms is None else asyncio.wait_for(work, timeout_ms / 1000 + BACKSTOP_GRACE_S))
            return _as_result(value, self.framework_name)
        except asyncio.TimeoutError:
            return recorder.result(self.params, "timeout", started)
        except Exception as exc:
            return recorder.result(self.params, "error", started, exc)


def _as_result(value: Any, framework: str) -> RunResult:
    if isinstance(value, RunResult):
        return value
    try:
        return RunResult.model_validate(value)
    except ValidationError as exc:
        raise TypeError(f"the {framework} framework returned no valid result: "
                        f"{describe_validation_error(exc, root='result')}") from None


def build_run(params: RunParams, registry: ToolRegistry, *, call_host: HostCaller | None = None,
              progress: Callable[[int, str], None] | None = None, hooks: Iterable[object] = (),
              client: str | None = None) -> Run:
    """Resolve everything a run needs, failing before any model call: an unknown framework or tool is
    `InvalidParams`, a missing model configuration or framework extra `ConfigurationError`.

    `call_host` runs a host tool (the session's `host/callTool`), `progress` gets each step's message,
    `hooks` are more run-hook consumers (see `sidekick.hooks`); the usage store and tracing add theirs
    (`sidekick.usage`), `client` naming the host in the usage record.
    """
    name = params.framework or default_framework()
    try:
        framework = get_framework(name)
    except InvalidParams as exc:
        if params.framework is None:  # named by SIDEKICK_FRAMEWORK, not by the request
            raise ConfigurationError(f"SIDEKICK_FRAMEWORK: {exc.message.removeprefix('Invalid params: ')}") from None
        raise
    builtin = run_tools(params, registry)
    model = chat_model(params.model)
    consumers = [*hooks, *run_consumers(params, registry, model=model, client=client)]
    if progress is not None:
        narrates = getattr(framework, "narrates", False)
        consumers.append(ProgressHooks(progress) if narrates else DerivedProgress(progress))
    recorder = None if name in BUILTIN_FRAMEWORKS else RunRecorder()
    if recorder is not None:
        consumers.append(recorder)
    run_hooks = HookSet(f"run-{next(_run_ids)}", consumers)
    host_tools = params.host_tools or []
    toolbox = ObservedToolbox(registry, builtin, host_tools, call_host, hooks=run_hooks) if run_hooks.tool_calls \
        else Toolbox(registry, builtin, host_tools, call_host)
    if run_hooks.model_calls:
        model = ObservedModel(model, run_hooks)
    return Run(name, framework, params, toolbox, model, run_hooks, recorder)
