"""The methods the sidekick serves: MCP lifecycle, tools, and the agent run."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from sidekick import __version__
from sidekick.protocol import (
    LATEST_PROTOCOL_VERSION,
    SUPPORTED_PROTOCOL_VERSIONS,
    CallToolParams,
    CallToolResult,
    EmptyParams,
    Implementation,
    InitializeParams,
    InitializeResult,
    ListToolsParams,
    ListToolsResult,
    SetLevelParams,
    TextContent,
)
from sidekick.agent.wire import RunParams, RunResult, RunTaskArgs
from sidekick.dispatch import Method, RequestContext
from sidekick.method_table import params_model

if TYPE_CHECKING:
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
    run_hooks: list[object] = field(default_factory=list)  # run-hook consumers of every run (sidekick.hooks)
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
        from sidekick.frameworks import available_frameworks

        state.protocol_version = negotiate_version(params.protocol_version)
        state.client_info = params.client_info.model_dump() if params.client_info else None
        log.info("initialize from %s, protocol %s", state.client_info, state.protocol_version)
        sidekick = {"run": True, "hostTools": True, "hostToolMeta": True, "frameworks": available_frameworks()}
        return InitializeResult(
            protocol_version=state.protocol_version,
            capabilities={"tools": {"listChanged": False}, "logging": {}, "experimental": {"sidekick": sidekick}},
            server_info=Implementation(name=SERVER_NAME, version=__version__),
            instructions=INSTRUCTIONS,
        )

    def initialized(ctx: RequestContext, params: EmptyParams) -> None:
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

    handlers = {"initialize": initialize, "notifications/initialized": initialized, "ping": ping,
                "logging/setLevel": set_level, "tools/list": list_tools, "tools/call": call_tool, "sidekick/run": run}
    return [Method(name, handler, params_model(name)) for name, handler in handlers.items()]


RUN_TASK = "run_task"


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
                                                      context=args.context, timeout_ms=args.timeout_ms,
                                                      framework=args.framework))
    except ValidationError as exc:
        text, failed, structured = f"Invalid arguments for run_task: {describe_validation_error(exc)}", True, None
    except RpcError as exc:  # configuration: no model, unknown tools or framework
        text, failed, structured = f"run_task could not start: {exc.message}", True, None
    else:
        text, failed = result.text, result.stop_reason == "error"
        structured = result.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"messages"})
    return CallToolResult(content=[TextContent(text=text)], structured_content=structured, is_error=failed)


async def run_task(state: ServerState, ctx: RequestContext, params: RunParams) -> RunResult:
    """One `sidekick/run`: built by `build_run`, its host tools called back over this session."""
    from sidekick.runs import build_run

    timeout_s = params.host_tool_timeout_ms / 1000

    async def call_host(name: str, arguments: dict[str, Any]) -> Any:
        # relatedRequestId tells a host running many runs at once which run this call belongs to.
        return await ctx.session.request("host/callTool", {"name": name, "arguments": arguments,
                                                           "_meta": {"relatedRequestId": ctx.id}},
                                         timeout=timeout_s)

    progress = ctx.progress if ctx.progress_token is not None else None
    run = build_run(params, state.registry, call_host=call_host, progress=progress, hooks=state.run_hooks)
    return await run.execute()
