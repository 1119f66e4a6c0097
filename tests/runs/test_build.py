"""`build_run`: what it refuses before any model call, what it assembles, and the rules every framework's
run then follows (run hooks, results in the wire shape, limits enforced on a plugin that overruns them)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sidekick import frameworks
from sidekick.agent.toolbox import Toolbox
from sidekick.run_protocol import RunParams
from sidekick.errors import ConfigurationError, InvalidParams, ModelError
from sidekick.hooks import RunHooks
from sidekick.runs import build, build_run
from sidekick.runs.observed import ObservedModel, ObservedToolbox
from sidekick.tools import build_registry

MODEL = {"baseUrl": "http://127.0.0.1:9/v1", "model": "m"}


def params(**extra: Any) -> RunParams:
    return RunParams.model_validate({"task": "x", "model": MODEL, **extra})


@pytest.fixture
def registry() -> Any:
    return build_registry(load_plugins=False)


@pytest.fixture
def framework(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Registers a test framework, `probe`, as a plugin would be: what it returns is `returned["value"]`."""
    returned: dict[str, Any] = {}

    class Probe:
        name = "probe"

        async def run(self, params: RunParams, toolbox: Any, model: Any, hooks: Any) -> Any:
            returned["got"] = (params, toolbox, model, hooks)
            await toolbox.call("calculate", {"expression": "6*7"})
            value = returned.get("value")
            if isinstance(value, BaseException):
                raise value
            if value == "hang":
                await asyncio.Event().wait()
            return value

    monkeypatch.setattr(frameworks, "_plugin_names", ["probe"])
    monkeypatch.setitem(frameworks._loaded, "probe", Probe())
    return returned


def test_bad_requests_are_refused_before_any_model_call(registry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidParams, match=r"unknown framework 'crewai'; available: native, upfront"):
        build_run(params(framework="crewai"), registry)
    with pytest.raises(InvalidParams, match="unknown tool"):
        build_run(params(tools=["rm_rf"]), registry)
    with pytest.raises(InvalidParams, match="hostTools"):
        build_run(params(hostTools=[{"name": "SEND\n", "description": "d", "inputSchema": {}}]), registry)
    with pytest.raises(InvalidParams, match="unknown model provider 'nope'"):
        build_run(params(model={**MODEL, "provider": "nope"}), registry)
    monkeypatch.setenv("SIDEKICK_FRAMEWORK", "crewai")
    with pytest.raises(ConfigurationError, match="SIDEKICK_FRAMEWORK: framework: unknown framework 'crewai'"):
        build_run(params(), registry)
    monkeypatch.setenv("SIDEKICK_FRAMEWORK", "upfront")
    assert build_run(params(), registry).framework_name == "upfront"
    assert build_run(params(framework="native"), registry).framework_name == "native"


def test_a_framework_whose_extra_is_missing_says_how_to_install_it(registry: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frameworks, "installed", lambda name: name != "langgraph")
    monkeypatch.delitem(frameworks._loaded, "langgraph", raising=False)
    with pytest.raises(ConfigurationError, match=r"pip install 'eliza-sidekick\[langgraph\]'"):
        build_run(params(framework="langgraph"), registry)
    assert "langgraph" not in frameworks.available_frameworks()


def test_model_and_toolbox_are_wrapped_only_for_someone_listening(registry: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIDEKICK_USAGE", "off")  # the usage store listens to every call (tests/usage)
    quiet = build_run(params(), registry, progress=lambda n, m: None)  # native narrates: no call events needed
    assert type(quiet.toolbox) is Toolbox and not isinstance(quiet.model, ObservedModel)

    class Metrics(RunHooks):
        def on_tool_call_end(self, event: Any) -> None: ...
        def on_model_call_end(self, event: Any) -> None: ...

    observed = build_run(params(), registry, hooks=[Metrics()])
    assert isinstance(observed.toolbox, ObservedToolbox) and isinstance(observed.model, ObservedModel)
    assert observed.model.settings.base_url == MODEL["baseUrl"]


async def test_a_plugin_may_answer_with_a_dict_and_the_run_hooks_see_start_and_end(
        registry: Any, framework: dict[str, Any]) -> None:
    framework["value"] = {"text": "42", "stopReason": "done", "steps": [], "toolsUsed": [], "usage": {},
                          "messages": [], "modelTurns": 1, "durationMs": 1.0}
    events: list[Any] = []

    class Runs(RunHooks):
        def on_run_start(self, event: Any) -> None:
            events.append(event)

        on_run_end = on_run_start

    result = await build_run(params(framework="probe"), registry, hooks=[Runs()]).execute()
    assert result.text == "42" and result.usage.total_tokens == 0
    started, ended = events
    assert (started.framework, started.model, started.params.task) == ("probe", "m", "x")
    assert ended.result is result and ended.run_id == started.run_id


@pytest.mark.parametrize("value, kind, text", [
    (ModelError("The model endpoint refused the API key", kind="auth"), "auth", "refused the API key"),
    (RuntimeError("a bug"), "internal", "internal error (RuntimeError)"),
    ({"text": "no stop reason"}, "internal", "internal error (TypeError)"),
])
async def test_a_plugin_that_fails_answers_with_what_its_hooks_saw(registry: Any, framework: dict[str, Any],
                                                                  value: Any, kind: str, text: str) -> None:
    framework["value"] = value
    result = await build_run(params(framework="probe"), registry).execute()
    assert result.stop_reason == "error" and result.error.kind == kind and text in result.text
    assert [(s.tool, s.ok, s.preview) for s in result.steps] == [("calculate", True, "42")]
    assert result.messages == [{"role": "user", "content": "x"}]


async def test_a_plugin_that_overruns_its_time_is_cut_off(registry: Any, framework: dict[str, Any],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    framework["value"] = "hang"
    monkeypatch.setattr(build, "BACKSTOP_GRACE_S", 0.0)
    result = await build_run(params(framework="probe", timeoutMs=50), registry).execute()
    assert result.stop_reason == "timeout" and "ran out of time" in result.text and len(result.steps) == 1
