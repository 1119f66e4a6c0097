"""The tools as MCP hosts see them: titles, truthful annotations, output schemas, a fixed order, and
argument errors that say how to make the call right.

Annotations are hints a host shows its user or uses to decide whether to ask before a call, so each one is
what the tool really does: `calculate` touches nothing; `fetch_url` and `web_search` only read, but reach the
open web. A plugin tool may set `title` and `annotations` (the MCP names, camelCase) on its class; without
them it has none, and hosts apply the specification's cautious defaults (may write, destructive, open world).
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from sidekick.tools.base import Tool, ToolRegistry

RUN_TASK = "run_task"
BUILTIN_ORDER = ("calculate", "fetch_url", "web_search")
_READS_ONLY = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True}
BUILTIN_PRESENTATION: dict[str, tuple[str, dict[str, bool]]] = {
    "calculate": ("Calculator", {**_READS_ONLY, "openWorldHint": False}),
    "fetch_url": ("Fetch a web page", {**_READS_ONLY, "openWorldHint": True}),
    "web_search": ("Web search", {**_READS_ONLY, "openWorldHint": True}),
}
RUN_TASK_TITLE = "Run a multi-step task"
RUN_TASK_DESCRIPTION = (
    "Hand a multi-step task to the sidekick's agent loop: it calls calculate, fetch_url, web_search and plugin "
    "tools as needed, sees every result, and returns the answer.")
MAX_SHOWN_INPUT = 60


def presentation(tool: Tool) -> tuple[str | None, dict[str, Any] | None]:
    """The tool's title and annotation hints: its own, else ours for a built-in, else none."""
    title, hints = BUILTIN_PRESENTATION.get(tool.name, (None, None))
    return getattr(tool, "title", None) or title, getattr(tool, "annotations", None) or hints


def describe(spec: dict[str, Any], title: str | None, hints: dict[str, Any] | None) -> dict[str, Any]:
    """An MCP tool: the spec plus `title` (2025-06-18) and `annotations` (with the title, for 2025-03-26)."""
    tool = {"name": spec["name"], **({"title": title} if title else {}), **spec}
    if title or hints:
        tool["annotations"] = {**({"title": title} if title else {}), **(hints or {})}
    return tool


def listed_order(registry: ToolRegistry) -> list[str]:
    """Built-ins first in their own order, then plugins by name: the same list on every call and start."""
    names = registry.names()
    return [n for n in BUILTIN_ORDER if n in registry.tools] + sorted(n for n in names if n not in BUILTIN_ORDER)


def run_task_hints(registry: ToolRegistry) -> dict[str, bool]:
    """run_task can do what its tools can: read-only only when every tool is, and so on."""
    hints = [presentation(tool)[1] or {} for tool in registry.tools.values()]
    read_only = all(h.get("readOnlyHint", False) for h in hints)
    result = {"readOnlyHint": read_only, "openWorldHint": any(h.get("openWorldHint", True) for h in hints)}
    if not read_only:  # the other two mean something only for a tool that writes
        result["destructiveHint"] = any(h.get("destructiveHint", True) for h in hints if not h.get("readOnlyHint"))
        result["idempotentHint"] = False  # the model may choose other calls the next time
    return result


@functools.cache
def run_task_output_schema() -> dict[str, Any]:
    """RunResult without `messages` (the transcript is for `sidekick/run` callers who continue it)."""
    from sidekick.run_protocol import RunResult

    schema = RunResult.model_json_schema(by_alias=True, mode="serialization")
    schema["properties"].pop("messages", None)
    schema["required"] = [name for name in schema.get("required", []) if name != "messages"]
    return schema


@functools.cache
def run_task_input_schema() -> dict[str, Any]:
    from sidekick.run_protocol import RunTaskArgs

    return RunTaskArgs.model_json_schema(by_alias=True)


def run_task_spec() -> dict[str, Any]:
    """run_task as `sidekick tools` prints it: name, description and schemas."""
    return {"name": RUN_TASK, "description": RUN_TASK_DESCRIPTION, "inputSchema": run_task_input_schema(),
            "outputSchema": run_task_output_schema()}


def tool_list(registry: ToolRegistry, task_support: bool) -> list[dict[str, Any]]:
    """Every tool in the fixed order, run_task last (unless a plugin took its name);
    `task_support` marks run_task as callable as a 2025-11-25 task."""
    tools = []
    for name in listed_order(registry):
        tool = registry.tools[name]
        tools.append(describe(tool.spec(), *presentation(tool)))
    if RUN_TASK not in registry.tools:
        run = describe(run_task_spec(), RUN_TASK_TITLE, run_task_hints(registry))
        if task_support:
            run["execution"] = {"taskSupport": "optional"}
        tools.append(run)
    return tools


# -- arguments ---------------------------------------------------------------------------------------
def _type_of(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    if "anyOf" in prop:
        return " | ".join(_type_of(p) for p in prop["anyOf"] if p.get("type") != "null") or "any"
    kind = prop.get("type", "any")
    kind = " | ".join(kind) if isinstance(kind, list) else kind
    bounds = [f"{word} {prop[key]}" for key, word in (("minimum", "≥"), ("exclusiveMinimum", ">"),
                                                        ("maximum", "≤"), ("minLength", "length ≥"))
              if key in prop]
    return f"{kind} ({', '.join(bounds)})" if bounds else kind


def call_shape(schema: dict[str, Any]) -> str:
    """How to call a tool, from its input schema: `{"expression": string}`, optional names with `?`."""
    required = set(schema.get("required", []))
    fields = [f'"{name}"{"" if name in required else "?"}: {_type_of(prop)}'
              for name, prop in schema.get("properties", {}).items()]
    return "{" + ", ".join(fields) + "}"


def _problem(error: dict[str, Any], allowed: list[str]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ())) or "arguments"
    kind = error.get("type", "")
    if kind == "missing":
        return f"'{where}' is required"
    if kind == "extra_forbidden":
        return f"'{where}' is not one of its arguments ({', '.join(allowed) or 'it takes none'})"
    shown = json.dumps(error.get("input"), ensure_ascii=False, default=str)
    if len(shown) > MAX_SHOWN_INPUT:
        shown = shown[:MAX_SHOWN_INPUT] + "…"
    return f"'{where}': {error.get('msg', 'invalid')} (got {shown})"


def argument_problem(name: str, args_model: type[BaseModel], schema: dict[str, Any], arguments: Any) -> str | None:
    """None when `arguments` are valid for the tool, else a tool-error text that says what is wrong and the
    shape of a right call, with the descriptions of the arguments that were wrong."""
    if arguments is None:
        arguments = {}
    properties = schema.get("properties", {})
    if not isinstance(arguments, dict):
        return f"Invalid arguments for {name}: they must be a JSON object. Call {name} with {call_shape(schema)}."
    try:
        args_model.model_validate(arguments)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    else:
        return None
    problems = "; ".join(_problem(e, list(properties)) for e in errors)
    wrong = dict.fromkeys(str(e["loc"][0]) for e in errors if e.get("loc") and str(e["loc"][0]) in properties)
    notes = "".join(f" {field}: {properties[field]['description']}" for field in wrong
                    if properties[field].get("description"))
    return f"Invalid arguments for {name}: {problems}. Call {name} with {call_shape(schema)}.{notes}"


def tool_argument_problem(tool: Tool, arguments: Any) -> str | None:
    return argument_problem(tool.name, tool.Args, tool.spec()["inputSchema"], arguments)


def run_task_argument_problem(arguments: Any) -> str | None:
    from sidekick.run_protocol import RunTaskArgs

    return argument_problem(RUN_TASK, RunTaskArgs, run_task_input_schema(), arguments)


def as_json_text(result: dict[str, Any]) -> dict[str, Any]:
    """A CallToolResult whose text is exactly its structuredContent as JSON (2026-07-28 tools: "SHOULD also
    return the serialized JSON in a TextContent block"); results without structured content stay as they are."""
    structured = result.get("structuredContent")
    if structured is None:
        return result
    return {**result, "content": [{"type": "text", "text": json.dumps(structured, ensure_ascii=False)}]}
