"""A second, minimal suite: proves a suite plugs in through the interface without touching the runner."""

from __future__ import annotations

from typing import Any

from sidekick.evals.suite import Call, Task, ToolResult


class CounterEnvironment:
    def __init__(self) -> None:
        self.counters: dict[str, int] = {"apples": 1, "pears": 5}

    def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        key = arguments.get("counter")
        if key not in self.counters:
            return ToolResult(f"no counter {key!r}", is_error=True)
        if name == "increment":
            self.counters[key] += 1
        return ToolResult(str(self.counters[key]))

    def state(self) -> Any:
        return self.counters


class TinySuite:
    name = "tiny"
    description = "two counters"
    system_prompt = "You keep counters."
    categories = ("read", "write")

    def tasks(self) -> list[Task]:
        return [Task("read-pears", "read", "How many pears?", ((Call("read", {"counter": "pears"}),),),
                     outputs=("5",)),
                Task("add-apple", "write", "Add an apple, then tell me the count.",
                     ((Call("increment", {"counter": "apple"}),), (Call("increment", {"counter": "apples"}),)),
                     outputs=("2",))]

    def tool_specs(self, task: Task) -> list[dict[str, Any]]:
        schema = {"type": "object", "properties": {"counter": {"type": "string"}}, "required": ["counter"]}
        return [{"name": "read", "description": "Read a counter.", "inputSchema": schema},
                {"name": "increment", "description": "Add one to a counter.", "inputSchema": schema}]

    def new_environment(self, task: Task) -> CounterEnvironment:
        return CounterEnvironment()
