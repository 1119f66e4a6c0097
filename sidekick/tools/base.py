"""What a tool is, and the registry that lists and calls tools.

A tool is a name, a description, a pydantic arguments model (whose JSON Schema is the tool's
inputSchema) and `run()`. `run` may be `async def` (it runs on the event loop) or a plain `def` (it
blocks, so it runs in a worker thread: the tool's own pool when it sets `threads`, else a shared one),
unless the tool says a call `runs_inline(args)`: quick and bounded, it is called on the loop directly.
Whatever a tool raises comes back as a `ToolOutput` with `is_error=True`: a tool failure is something
the model reads, never a protocol fault.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable

from pydantic import BaseModel, ConfigDict, ValidationError

from sidekick.errors import describe_validation_error

log = logging.getLogger("sidekick.tools")


MAX_BLOCKING_CALLS = 64
_pools: dict[str, ThreadPoolExecutor] = {}


def _pool_for(tool: Tool) -> ThreadPoolExecutor:
    """The threads a blocking tool runs on, apart from asyncio's small default pool (6 on 2 cores).

    A tool with `threads` set has a pool of its own, so its calls beyond that many wait for one of its
    threads (within their timeout) and never take another tool's: 64 slow fetches at once cannot
    starve a calculation. The others share MAX_BLOCKING_CALLS threads.
    """
    key = tool.name if tool.threads else ""
    pool = _pools.get(key)
    if pool is None:
        pool = _pools[key] = ThreadPoolExecutor(max_workers=tool.threads or MAX_BLOCKING_CALLS,
                                                thread_name_prefix=f"sidekick-{key or 'tool'}")
    return pool


class ToolArgs(BaseModel):
    """Base for tool argument models: unknown keys are refused so the model learns the real schema."""

    model_config = ConfigDict(extra="forbid", defer_build=True, populate_by_name=True)


@dataclass
class ToolOutput:
    """What a tool call produced: text for the model, optional structured data, and the error flag."""

    text: str
    structured: dict[str, Any] | None = None
    is_error: bool = False

    def to_mcp(self) -> dict[str, Any]:
        result: dict[str, Any] = {"content": [{"type": "text", "text": self.text}], "isError": self.is_error}
        if self.structured is not None:
            result["structuredContent"] = self.structured
        return result


class ToolFailure(Exception):
    """Raised by a tool for an expected failure; its message goes to the model as is."""


class Tool:
    """Subclass and set `name`, `description`, `Args`; implement `run(args)`."""

    name: ClassVar[str]
    description: ClassVar[str]
    Args: ClassVar[type[BaseModel]]
    timeout_s: ClassVar[float] = 30.0
    threads: ClassVar[int | None] = None  # a pool of this many threads of its own (blocking tools only)
    output_schema: ClassVar[dict[str, Any] | None] = None

    def run(self, args: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def runs_inline(self, args: Any) -> bool:
        """Whether this call may run on the event loop itself, with no thread hop and no timer.

        Only for a plain `def run()` that does no I/O and whose work these `args` bound to a millisecond
        or so: a thread would not make such a call shorter (it holds the GIL), but the hop and the
        timeout timer cost several times the work.
        """
        return False

    def spec(self) -> dict[str, Any]:
        """The MCP tool description: {name, description, inputSchema[, outputSchema]}.

        Built once per tool: every run sends the specs to the model, and schema generation is not cheap.
        """
        cached = self.__dict__.get("_spec")
        if cached is not None:
            return cached
        spec: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.Args.model_json_schema(),
        }
        if self.output_schema is not None:
            spec["outputSchema"] = self.output_schema
        self.__dict__["_spec"] = spec
        return spec


def as_output(value: Any) -> ToolOutput:
    """Normalise what `run()` returned: a ToolOutput, a str, or a JSON-able dict (structured)."""
    if isinstance(value, ToolOutput):
        return value
    if isinstance(value, str):
        return ToolOutput(value)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True)
    if isinstance(value, dict):
        import json

        return ToolOutput(json.dumps(value, ensure_ascii=False), structured=value)
    return ToolOutput(str(value))


# What chat-completions endpoints accept as a function name (MCP hosts would also take "."): a tool named
# otherwise would make every run that offers it fail at the endpoint. The one rule for built-in, plugin and
# host tools alike; use it with fullmatch.
TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def tool_name_problem(name: Any) -> str | None:
    if isinstance(name, str) and TOOL_NAME.fullmatch(name):
        return None
    return (f"invalid tool name {name!r} (letters, digits, _ and - only, at most 64: model endpoints refuse "
            "other function names)")


@dataclass
class ToolRegistry:
    """The tools this process offers, by name."""

    tools: dict[str, Tool] = field(default_factory=dict)

    def add(self, tool: Tool) -> None:
        if (problem := tool_name_problem(tool.name)) is not None:
            raise ValueError(problem)
        if tool.name in self.tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self.tools[tool.name] = tool

    def names(self) -> list[str]:
        return list(self.tools)

    def specs(self, names: Iterable[str] | None = None) -> list[dict[str, Any]]:
        chosen = self.tools if names is None else {n: self.tools[n] for n in names if n in self.tools}
        return [tool.spec() for tool in chosen.values()]

    async def call(self, name: str, arguments: Any) -> ToolOutput:
        """Validate and run one tool call. Only cancellation propagates; every failure is a ToolOutput."""
        tool = self.tools.get(name)
        if tool is None:
            known = ", ".join(sorted(self.tools)) or "none"
            return ToolOutput(f"Unknown tool {name!r}. Available tools: {known}.", is_error=True)
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            return ToolOutput(f"Arguments for {name} must be a JSON object.", is_error=True)
        try:
            args = tool.Args.model_validate(arguments)
        except ValidationError as exc:
            return ToolOutput(f"Invalid arguments for {name}: {describe_validation_error(exc)}", is_error=True)
        try:
            if tool.runs_inline(args):
                value = tool.run(args)
            elif inspect.iscoroutinefunction(tool.run):
                value = await asyncio.wait_for(tool.run(args), tool.timeout_s)
            else:
                running = asyncio.get_running_loop().run_in_executor(_pool_for(tool), tool.run, args)
                value = await asyncio.wait_for(running, tool.timeout_s)
        except asyncio.TimeoutError:
            return ToolOutput(f"{name} timed out after {tool.timeout_s:g} s.", is_error=True)
        except ToolFailure as exc:
            return ToolOutput(f"{name} failed: {exc}", is_error=True)
        except (Exception, SystemExit) as exc:  # a tool's bug (even sys.exit) must not end the run
            log.warning("tool %s raised", name, exc_info=exc)
            return ToolOutput(f"{name} failed: {type(exc).__name__}: {exc}", is_error=True)
        return as_output(value)
