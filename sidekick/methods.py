"""The methods the sidekick serves: MCP lifecycle, tools, and the agent run."""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from sidekick import __version__
from sidekick.protocol import (
    LATEST_PROTOCOL_VERSION,
    SUPPORTED_PROTOCOL_VERSIONS,
    CallToolParams,
    CallToolResult,
    Implementation,
    InitializeParams,
    InitializeResult,
    ListToolsParams,
    ListToolsResult,
    SetLevelParams,
    TextContent,
)
from sidekick.agent.wire import RunParams, RunResult, RunTaskArgs
from sidekick.errors import InvalidParams
from sidekick.dispatch import Method, RequestContext

if TYPE_CHECKING:
    from sidekick.agent.chat import ChatModel, ResolvedModelSettings
    from sidekick.logforward import LogForwarder
    from sidekick.tools.base import ToolRegistry

log = logging.getLogger("sidekick.methods")

SERVER_NAME = "eliza-sidekick"
INSTRUCTIONS = (
    "A Python sidekick with a native tool-calling loop. Call `run_task` (MCP) or `sidekick/run` with a task; "
    "it plans, calls tools (calculate, fetch_url, web_search, plugins, host tools), reads every result and "
    "answers. The tools are also callable one by one."
)


@dataclass
class ServerState:
    """What the methods share for the life of the process."""

    registry_factory: Callable[[], ToolRegistry]
    model_factory: Callable[[ResolvedModelSettings], ChatModel] | None = None
    log_forwarder: LogForwarder | None = None
    client_info: dict[str, Any] | None = None
    protocol_version: str | None = None
    _registry: ToolRegistry | None = field(default=None, repr=False)

    @property
    def registry(self) -> ToolRegistry:
        # Built on first use: loading plugins costs entry-point scanning that cold start should not pay.
        if self._registry is None:
            self._registry = self.registry_factory()
        return self._registry


def negotiate_version(requested: str) -> str:
    """Echo the client's protocol version when supported, else offer our newest."""
    return requested if requested in SUPPORTED_PROTOCOL_VERSIONS else LATEST_PROTOCOL_VERSION


def build_methods(state: ServerState) -> list[Method]:
    """The method table for one session."""

    def initialize(ctx: RequestContext, params: InitializeParams) -> InitializeResult:
        state.protocol_version = negotiate_version(params.protocol_version)
        state.client_info = params.client_info.model_dump() if params.client_info else None
        log.info("initialize from %s, protocol %s", state.client_info, state.protocol_version)
        return InitializeResult(
            protocol_version=state.protocol_version,
            capabilities={"tools": {"listChanged": False}, "logging": {},
                          "experimental": {"sidekick": {"run": True, "hostTools": True, "hostToolMeta": True}}},
            server_info=Implementation(name=SERVER_NAME, version=__version__),
            instructions=INSTRUCTIONS,
        )

    def initialized(ctx: RequestContext, params: dict[str, Any]) -> None:
        log.debug("the client is initialized")

    def ping(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {}

    def set_level(ctx: RequestContext, params: SetLevelParams) -> dict[str, Any]:
        if state.log_forwarder is not None:
            state.log_forwarder.set_mcp_level(params.level)
        return {}

    def list_tools(ctx: RequestContext, params: ListToolsParams) -> ListToolsResult:
        return ListToolsResult.model_validate({"tools": [*state.registry.specs(), run_task_spec()]})

    async def call_tool(ctx: RequestContext, params: CallToolParams) -> CallToolResult:
        if params.name == RUN_TASK and RUN_TASK not in state.registry.tools:
            return await call_run_task(state, ctx, params.arguments or {})
        output = await state.registry.call(params.name, params.arguments)
        return CallToolResult.model_validate(output.to_mcp())

    async def run(ctx: RequestContext, params: RunParams) -> RunResult:
        return await run_task(state, ctx, params)

    return [
        Method("initialize", initialize, InitializeParams),
        Method("notifications/initialized", initialized),
        Method("ping", ping),  # no params model: the hot path of every health check
        Method("logging/setLevel", set_level, SetLevelParams),
        Method("tools/list", list_tools, ListToolsParams),
        Method("tools/call", call_tool, CallToolParams),
        Method("sidekick/run", run, RunParams),
    ]


RUN_TASK = "run_task"
FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what chat-completions endpoints accept


@functools.cache
def run_task_spec() -> dict[str, Any]:
    return {
        "name": RUN_TASK,
        "description": ("Hand a multi-step task to the sidekick's agent loop: it calls calculate, fetch_url, "
                        "web_search and plugin tools as needed, sees every result, and returns the answer."),
        "inputSchema": RunTaskArgs.model_json_schema(by_alias=True),
    }


async def call_run_task(state: ServerState, ctx: RequestContext, arguments: dict[str, Any]) -> CallToolResult:
    """The MCP face of the loop: a tool error for bad arguments or a failed run, the answer otherwise."""
    from pydantic import ValidationError

    from sidekick.errors import RpcError, describe_validation_error

    try:
        args = RunTaskArgs.model_validate(arguments)
        result = await run_task(state, ctx, RunParams(task=args.task, max_steps=args.max_steps,
                                                      context=args.context, timeout_ms=args.timeout_ms))
    except ValidationError as exc:
        text, failed, structured = f"Invalid arguments for run_task: {describe_validation_error(exc)}", True, None
    except RpcError as exc:  # configuration: no model, unknown tools
        text, failed, structured = f"run_task could not start: {exc.message}", True, None
    else:
        text, failed = result.text, result.stop_reason == "error"
        structured = result.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"messages"})
    return CallToolResult(content=[TextContent(text=text)], structured_content=structured, is_error=failed)


async def run_task(state: ServerState, ctx: RequestContext, params: RunParams) -> RunResult:
    """One `sidekick/run`: resolve the model, assemble the run's tools, and loop until done."""
    from sidekick.agent.loop import AgentLoop
    from sidekick.agent.chat import resolve_settings
    from sidekick.agent.toolbox import Toolbox

    registry = state.registry
    builtin = registry.names() if params.tools is None else params.tools
    unknown = [name for name in builtin if name not in registry.tools]
    if unknown:
        raise InvalidParams(f"Invalid params: unknown tool(s) {', '.join(unknown)}; "
                            f"available: {', '.join(registry.names())}")
    host_names = [tool.name for tool in params.host_tools or []]
    bad = [n for n in host_names if not FUNCTION_NAME.match(n)]
    clashes = sorted({n for n in host_names if n in builtin or host_names.count(n) > 1})
    if bad or clashes:
        raise InvalidParams("Invalid params: hostTools: " + "; ".join(
            ([f"names must match {FUNCTION_NAME.pattern} (got {', '.join(map(repr, bad))})"] if bad else []) +
            ([f"{', '.join(clashes)} clash with another tool of this run"] if clashes else [])))
    settings = resolve_settings(params.model)
    if state.model_factory is None:
        from sidekick.agent.openai_model import OpenAIChatModel

        state.model_factory = OpenAIChatModel
    timeout_s = params.host_tool_timeout_ms / 1000

    async def call_host(name: str, arguments: dict[str, Any]) -> Any:
        # relatedRequestId tells a host running many runs at once which run this call belongs to.
        return await ctx.session.request("host/callTool", {"name": name, "arguments": arguments,
                                                           "_meta": {"relatedRequestId": ctx.id}},
                                         timeout=timeout_s)

    toolbox = Toolbox(registry, builtin, params.host_tools or [], call_host)
    loop = AgentLoop(state.model_factory(settings), toolbox, progress=lambda n, message: ctx.progress(n, message))
    return await loop.run(params)
