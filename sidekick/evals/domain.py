"""What the built-in suites (shop, clinic) share: the task builders, a tool's shape, and the environment
that runs one trial's tools against its own database copy, with the faults its task injects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Union

from sidekick.evals.suite import Call, Task, ToolResult

CATEGORIES = ("single", "multi", "parallel", "recovery", "no_tool")

Turn = Union[Call, list[Call]]


def c(tool: str, /, **arguments: Any) -> Call:
    """One gold call."""
    return Call(tool, arguments)


def task(task_id: str, category: str, instruction: str, *turns: Turn, outputs: tuple[str, ...] = (),
         builtins: tuple[str, ...] = (), faults: tuple[tuple[str, int], ...] = ()) -> Task:
    """A task whose turns are single calls or lists of calls made together."""
    assert category in CATEGORIES, category
    actions = tuple(tuple(t) if isinstance(t, list) else (t,) for t in turns)
    return Task(task_id, category, instruction, actions, outputs, builtins, category == "no_tool", faults)


class ToolError(Exception):
    """A refusal or a bad argument the agent should read and act on (not a bug)."""


@dataclass(frozen=True)
class DomainTool:
    """A host tool: its schema for the model, and `run(db, arguments)` for the environment."""

    name: str
    description: str
    properties: dict[str, Any]
    required: tuple[str, ...]
    run: Callable[[dict[str, Any], dict[str, Any]], Any]

    def spec(self) -> dict[str, Any]:
        """The MCP tool spec: {name, description, inputSchema}."""
        return {"name": self.name, "description": self.description,
                "inputSchema": {"type": "object", "properties": self.properties,
                                "required": list(self.required), "additionalProperties": False}}

    def check(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments `run` gets; ToolError when they do not fit the schema."""
        raise NotImplementedError


class DomainEnvironment:
    """One trial's world. Subclasses set `tools`, `fault_text` (formatted with the tool's `name`) and
    `initial_database`."""

    tools: dict[str, DomainTool]
    fault_text: str

    def __init__(self, faults: dict[str, int] | None = None) -> None:
        self.db = self.initial_database()
        self.faults = dict(faults or {})

    def initial_database(self) -> dict[str, Any]:
        raise NotImplementedError

    def unknown_tool(self, name: str) -> str:
        return f"Error: unknown tool {name!r}"

    def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Run one tool; refusals and bad arguments come back as error text, the database unchanged."""
        tool = self.tools.get(name)
        if tool is None:
            return ToolResult(self.unknown_tool(name), is_error=True)
        if self.faults.get(name, 0) > 0:
            self.faults[name] -= 1
            return ToolResult(self.fault_text.format(name=name), is_error=True)
        try:
            result = tool.run(self.db, tool.check(arguments))
        except ToolError as exc:
            return ToolResult(f"Error: {exc}", is_error=True)
        return ToolResult(result if isinstance(result, str) else json.dumps(result, ensure_ascii=False))

    def state(self) -> Any:
        """The database, for hashing."""
        return self.db
