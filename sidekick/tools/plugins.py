"""Tools from other Python packages, through the entry-point group `sidekick.tools`.

An entry point may name a Tool subclass (instantiated without arguments), a Tool instance, or a
callable returning a Tool or a list of Tools. In a package's pyproject.toml:

    [project.entry-points."sidekick.tools"]
    weather = "my_package.tools:WeatherTool"

A plugin that fails to import, yields something that is not a valid tool, or clashes with a tool
name already registered is logged to the `sidekick.tools` logger and skipped: it never stops the
sidekick from starting.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel

from sidekick.tools.base import Tool, ToolRegistry, tool_name_problem

GROUP = "sidekick.tools"

log = logging.getLogger("sidekick.tools")


def load_plugins(registry: ToolRegistry, group: str = GROUP) -> list[str]:
    """Add every plugin tool to `registry`; returns the names added."""
    from importlib.metadata import entry_points

    added: list[str] = []
    try:
        points = list(entry_points(group=group))
    except Exception as exc:  # a corrupt dist-info somewhere on sys.path
        log.warning("cannot list %s plugins: %s", group, exc)
        return added
    for point in points:
        where = f"plugin {point.name!r} ({point.value})"
        try:
            tools = _tools_from(point.load())
        except (Exception, SystemExit) as exc:  # a plugin's import may even call sys.exit
            log.warning("skipping %s: %s: %s", where, type(exc).__name__, exc)
            continue
        for tool in tools:
            problem = _problem(tool)
            if problem is None and (tool.name in registry.tools or tool.name in RESERVED_NAMES):
                problem = f"a tool named {tool.name!r} is already registered"
            if problem is not None:
                log.warning("skipping a tool of %s: %s", where, problem)
                continue
            registry.add(tool)
            added.append(tool.name)
    return added


RESERVED_NAMES = frozenset({"run_task"})  # the MCP face of the agent loop, offered beside the tools


def _tools_from(obj: Any) -> list[Any]:
    if isinstance(obj, type) and issubclass(obj, Tool):
        return [obj()]
    if isinstance(obj, Tool):
        return [obj]
    if callable(obj):
        made = obj()
        return list(made) if isinstance(made, (list, tuple)) else [made]
    raise TypeError(f"expected a Tool subclass, a Tool or a callable, got {type(obj).__name__}")


def _problem(tool: Any) -> str | None:
    if not isinstance(tool, Tool):
        return f"{type(tool).__name__} is not a sidekick Tool"
    name = getattr(tool, "name", None)
    if (problem := tool_name_problem(name)) is not None:
        return problem
    if not isinstance(getattr(tool, "description", None), str):
        return f"tool {name!r} has no description"
    args = getattr(tool, "Args", None)
    if not (isinstance(args, type) and issubclass(args, BaseModel)):
        return f"tool {name!r} has no pydantic Args model"
    try:
        tool.spec()
    except Exception as exc:
        return f"tool {name!r} has no valid JSON Schema: {exc}"
    return None
