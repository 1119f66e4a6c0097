"""Frameworks: what runs one task once `build_run` has resolved its model, toolbox and hooks.

A framework is any object with a `name` and `async run(params, toolbox, model, hooks) -> RunResult` (a dict
of the result's wire shape is accepted too); a plain class with those two members is enough. It honours the
run's limits (`maxSteps`, `timeoutMs`, `tokenBudget`), lets cancellation through, and returns the run's new
messages in the chat-completions format. The model and toolbox it gets already report their calls to the
hooks; a framework that reports its own progress sets `narrates = True` and calls `hooks.progress(message)`.

Built in: `native` (our loop, the default), `upfront` (the A/B baseline) and `langgraph` (with the extra
`eliza-sidekick[langgraph]`). Packages add theirs through the entry-point group `sidekick.frameworks`: the
entry's name is the framework's name, its object a class (made with no arguments) or an instance.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import os
from typing import TYPE_CHECKING, Any, Protocol

from sidekick.entrypoints import entry_point_names, instance, load_entry_point, load_reference
from sidekick.errors import ConfigurationError, InvalidParams

if TYPE_CHECKING:
    from sidekick.agent.chat import ChatModel
    from sidekick.agent.toolbox import Toolbox
    from sidekick.run_protocol import RunParams, RunResult
    from sidekick.hooks import HookSet

GROUP = "sidekick.frameworks"
DEFAULT_FRAMEWORK = "native"
BUILTIN_FRAMEWORKS = {
    "native": "sidekick.frameworks.native:NativeFramework",
    "upfront": "sidekick.frameworks.upfront:UpfrontFramework",
    "langgraph": "sidekick.frameworks.langgraph:LangGraphFramework",
}
EXTRAS = {"langgraph": ("langchain", "langchain_openai", "langgraph")}  # what an optional one imports
log = logging.getLogger("sidekick.frameworks")
_loaded: dict[str, Any] = {}
_failed: dict[str, str] = {}  # name → why it did not load: said in the log once, then in each answer
_plugin_names: list[str] | None = None


class Framework(Protocol):
    name: str

    async def run(self, params: RunParams, toolbox: Toolbox, model: ChatModel, hooks: HookSet) -> RunResult: ...


def installed(name: str) -> bool:
    """Whether a built-in framework's optional packages are installed (found, not imported)."""
    return all(importlib.util.find_spec(module) is not None for module in EXTRAS.get(name, ()))


def plugin_names() -> list[str]:
    """Frameworks of installed packages (entry points), read once per process; built-in names win."""
    global _plugin_names
    if _plugin_names is None:
        _plugin_names = [n for n in entry_point_names(GROUP) if n not in BUILTIN_FRAMEWORKS]
    return _plugin_names


def available_frameworks() -> list[str]:
    """Every framework a run may name here: the usable built-ins, then the installed plugins."""
    return [*(n for n in BUILTIN_FRAMEWORKS if installed(n)), *plugin_names()]


def default_framework() -> str:
    """$SIDEKICK_FRAMEWORK, else `native`."""
    return os.environ.get("SIDEKICK_FRAMEWORK") or DEFAULT_FRAMEWORK


def _checked(name: str, value: Any) -> Any:
    framework = instance(value)
    if not inspect.iscoroutinefunction(getattr(framework, "run", None)):
        raise TypeError(f"{type(framework).__name__} has no `async def run(params, toolbox, model, hooks)`")
    if getattr(framework, "name", name) != name:
        log.warning("framework entry point %r names an object called %r; it is served as %r",
                    name, framework.name, name)
    return framework


def get_framework(name: str) -> Framework:
    """The framework called `name`, loaded on first use.

    An unknown name is invalid params naming the available ones; a framework whose extra is not installed,
    or a plugin that fails to load (logged once), is a configuration error.
    """
    if name in _loaded:
        return _loaded[name]
    if name in _failed:
        raise ConfigurationError(_failed[name])
    if name in BUILTIN_FRAMEWORKS:
        if not installed(name):
            raise ConfigurationError(f"The {name} framework needs its extra: pip install 'eliza-sidekick[{name}]'")
        reference = BUILTIN_FRAMEWORKS[name]
    elif name in plugin_names():
        reference = None
    else:
        raise InvalidParams(f"Invalid params: framework: unknown framework {name!r}; available: "
                            f"{', '.join(available_frameworks())}")
    try:
        value = load_reference(reference) if reference else load_entry_point(GROUP, name)
        _loaded[name] = _checked(name, value)
    except (Exception, SystemExit) as exc:  # a plugin's import may even call sys.exit
        _failed[name] = f"The framework {name!r} failed to load: {type(exc).__name__}: {exc}"
        log.warning("%s", _failed[name])
        raise ConfigurationError(_failed[name]) from None
    return _loaded[name]
