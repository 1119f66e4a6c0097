"""The methods the sidekick serves: MCP lifecycle, tools, tasks and the agent run, in both MCP eras.

A request is served in the era it speaks (`sidekick.mcp_era`): the handshake era (2024-11-05 … 2025-11-25)
exactly as before, and 2026-07-28 for a request whose `_meta` names that protocol version, on the same
connection, before or without any `initialize`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from sidekick import __version__
from sidekick.protocol import (
    LATEST_PROTOCOL_VERSION,
    SUPPORTED_PROTOCOL_VERSIONS,
    CallToolParams,
    EmptyParams,
    HostCallToolParams,
    Implementation,
    InitializeParams,
    InitializeResult,
    ListToolsParams,
    RequestMeta,
    SetLevelParams,
    to_wire,
)
from sidekick.run_protocol import RunParams, RunResult
from sidekick.dispatch import Method, RequestContext
from sidekick.errors import InvalidParams, MethodNotFound, RpcError
from sidekick.mcp_era import (
    SERVED_VERSIONS,
    SERVER_NAME,
    SIDEKICK_EXTENSION,
    TASKS_EXTENSION,
    Envelope,
    complete,
    envelope,
)
from sidekick.mcp_tools import RUN_TASK, as_json_text, run_task_spec
from sidekick.method_table import params_model

if TYPE_CHECKING:
    from sidekick.logforward import LogForwarder
    from sidekick.mcp_rounds import Rounds
    from sidekick.mcp_tasks import TaskRecord, TaskStore
    from sidekick.runs.build import Run
    from sidekick.tools.base import ToolRegistry

__all__ = ["INSTRUCTIONS", "SERVER_NAME", "ServerState", "build_methods", "run_task", "run_task_spec"]

log = logging.getLogger("sidekick.methods")

INSTRUCTIONS = (
    "A Python sidekick with a native tool-calling loop. Call `run_task` (MCP) or `sidekick/run` with a task; "
    "it plans, calls tools (calculate, fetch_url, web_search, plugins, host tools), reads every result and "
    "answers. The tools are also callable one by one."
)
TASK_VERSIONS = frozenset({"2025-11-25"})  # handshake revisions that define tasks
TOOLS_TTL_MS = 300_000  # the tool list is fixed for the life of the process; a restart may add plugins
DISCOVER_TTL_MS = 300_000
IMMEDIATE_RESPONSE_KEY = "io.modelcontextprotocol/model-immediate-response"


@dataclass
class ServerState:
    """What the methods share for the life of the process."""

    registry_factory: Callable[[], ToolRegistry]
    run_hooks: list[object] = field(default_factory=list)  # run-hook consumers of every run (sidekick.hooks)
    log_forwarder: LogForwarder | None = None
    client_info: dict[str, Any] | None = None
    protocol_version: str | None = None  # what the handshake settled on (the handshake era only)
    _registry: ToolRegistry | None = field(default=None, repr=False)
    _tool_lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)
    _tasks: TaskStore | None = field(default=None, repr=False)
    _rounds: Rounds | None = field(default=None, repr=False)

    @property
    def registry(self) -> ToolRegistry:
        # Built on first use: loading plugins costs entry-point scanning that cold start should not pay.
        if self._registry is None:
            self._registry = self.registry_factory()
        return self._registry

    def tool_list(self, task_support: bool) -> list[dict[str, Any]]:
        key = "tasks" if task_support else "plain"
        if key not in self._tool_lists:
            from sidekick.mcp_tools import tool_list

            self._tool_lists[key] = tool_list(self.registry, task_support)
        return self._tool_lists[key]

    @property
    def tasks(self) -> TaskStore:
        if self._tasks is None:
            from sidekick.mcp_tasks import TaskStore

            self._tasks = TaskStore()
        return self._tasks

    @property
    def rounds(self) -> Rounds:
        if self._rounds is None:
            from sidekick.mcp_rounds import Rounds

            self._rounds = Rounds()
        return self._rounds


def negotiate_version(requested: str) -> str:
    """Echo the client's protocol version when supported, else offer our newest."""
    return requested if requested in SUPPORTED_PROTOCOL_VERSIONS else LATEST_PROTOCOL_VERSION


def sidekick_capability(modern: bool = False) -> dict[str, Any]:
    """What the sidekick extension offers; 2026-07-28 host calls need no relatedRequestId (hostToolMeta): each
    one comes in the answer to its own run's request."""
    from sidekick.frameworks import available_frameworks

    offered: dict[str, Any] = {"run": True, "hostTools": True}
    return offered | ({} if modern else {"hostToolMeta": True}) | {"frameworks": available_frameworks()}


def build_methods(state: ServerState) -> list[Method]:
    """The method table for one session."""

    def initialize(ctx: RequestContext, params: InitializeParams) -> InitializeResult:
        state.protocol_version = negotiate_version(params.protocol_version)
        state.client_info = params.client_info.model_dump() if params.client_info else None
        log.info("initialize from %s, protocol %s", state.client_info, state.protocol_version)
        capabilities: dict[str, Any] = {"tools": {"listChanged": False}, "logging": {},
                                        "experimental": {"sidekick": sidekick_capability()}}
        if state.protocol_version in TASK_VERSIONS:
            capabilities["tasks"] = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
        return InitializeResult(protocol_version=state.protocol_version, capabilities=capabilities,
                                server_info=Implementation(name=SERVER_NAME, version=__version__),
                                instructions=INSTRUCTIONS)

    def initialized(ctx: RequestContext, params: EmptyParams) -> None:
        log.debug("the client is initialized")

    def ping(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {}

    def set_level(ctx: RequestContext, params: SetLevelParams) -> dict[str, Any]:
        if state.log_forwarder is not None:
            state.log_forwarder.set_mcp_level(params.level)
        return {}

    def discover(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if envelope(params) is None:
            raise InvalidParams("Invalid params: server/discover is a 2026-07-28 request: its _meta needs "
                                "io.modelcontextprotocol/protocolVersion and clientCapabilities")
        extensions = {TASKS_EXTENSION: {}, SIDEKICK_EXTENSION: sidekick_capability(modern=True)}
        return complete({"supportedVersions": list(SERVED_VERSIONS),
                         "capabilities": {"tools": {"listChanged": False}, "extensions": extensions},
                         "instructions": INSTRUCTIONS, "ttlMs": DISCOVER_TTL_MS, "cacheScope": "public"})

    def list_tools(ctx: RequestContext, params: ListToolsParams) -> dict[str, Any]:
        if envelope(ctx.params) is None:
            return {"tools": state.tool_list(state.protocol_version in TASK_VERSIONS)}
        if params.cursor is not None:
            raise InvalidParams("Invalid params: unknown cursor (tools/list answers in one page)")
        return complete({"tools": state.tool_list(False), "ttlMs": TOOLS_TTL_MS, "cacheScope": "public"})

    async def call_tool(ctx: RequestContext, params: CallToolParams) -> dict[str, Any]:
        era = envelope(ctx.params)
        if params.name == RUN_TASK and RUN_TASK not in state.registry.tools:
            return await call_run_task(state, ctx, params.arguments, era)
        if era is None and ctx.params.get("task") is not None and state.protocol_version in TASK_VERSIONS:
            raise MethodNotFound(f"Method not found: {params.name} cannot run as a task (its taskSupport is "
                                 "forbidden); call it without `task`")
        tool = state.registry.tools.get(params.name)
        if tool is None and era is not None:  # 2026-07-28 tools: an unknown tool is a protocol error
            raise InvalidParams(f"Unknown tool: {params.name!r}. Available tools: "
                                f"{', '.join(t['name'] for t in state.tool_list(False))}")
        from sidekick.mcp_tools import tool_argument_problem

        problem = tool_argument_problem(tool, params.arguments) if tool is not None else None
        if problem is not None:
            output = error_result(problem)
        elif tool is None:  # the registry knows only its own tools; the list the host saw has run_task too
            output = error_result(f"Unknown tool {params.name!r}. Available tools: "
                                  f"{', '.join(t['name'] for t in state.tool_list(False))}.")
        else:
            output = (await state.registry.call(params.name, params.arguments)).to_mcp()
            output = {"content": output["content"], **({"structuredContent": output["structuredContent"]}
                                                        if "structuredContent" in output else {}),
                      "isError": output["isError"]}
        return output if era is None else complete(as_json_text(output))

    async def run(ctx: RequestContext, params: RunParams) -> Any:
        era = envelope(ctx.params)
        if era is None:
            return await run_task(state, ctx, params)
        return await run_modern(state, ctx, params, era)

    def tasks_handler(name: str) -> Callable[[RequestContext, dict[str, Any]], Any]:
        def handle(ctx: RequestContext, params: dict[str, Any]) -> Any:
            from sidekick import mcp_tasks

            era = envelope(params)
            return getattr(mcp_tasks, name)(state.tasks, era.version if era else None, params)
        return handle

    async def tasks_result(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        from sidekick.mcp_tasks import tasks_result as serve

        era = envelope(params)
        return await serve(state.tasks, era.version if era else None, params)

    handlers = {"initialize": initialize, "notifications/initialized": initialized, "ping": ping,
                "logging/setLevel": set_level, "tools/list": list_tools, "tools/call": call_tool, "sidekick/run": run}
    methods = [Method(name, handler, params_model(name)) for name, handler in handlers.items()]
    # The methods MCP added since: their params are checked in the handlers, whose models load lazily.
    extra = {"server/discover": discover, "tasks/get": tasks_handler("tasks_get"), "tasks/result": tasks_result,
             "tasks/list": tasks_handler("tasks_list"), "tasks/cancel": tasks_handler("tasks_cancel"),
             "tasks/update": tasks_handler("tasks_update")}
    return methods + [Method(name, handler, None) for name, handler in extra.items()]


def error_result(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


def tool_result(result: RunResult) -> dict[str, Any]:
    """run_task's CallToolResult: the answer as text, the run (less its transcript) as structured content."""
    structured = result.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"messages"})
    return {"content": [{"type": "text", "text": result.text}], "structuredContent": structured,
            "isError": result.stop_reason == "error"}


def prepare_run(state: ServerState, params: RunParams, call_host: Any = None,
                progress: Callable[[int, str], None] | None = None) -> Run:
    """Build a run (configuration faults raise here, before anything starts)."""
    from sidekick.runs import build_run

    return build_run(params, state.registry, call_host=call_host, progress=progress, hooks=state.run_hooks,
                     client=(state.client_info or {}).get("name"))


async def call_run_task(state: ServerState, ctx: RequestContext, arguments: Any, era: Envelope | None) -> Any:
    """The MCP face of the loop: a tool error for bad arguments or a run that cannot start, a task where the
    client asked for one (2025-11-25) or takes one (the tasks extension), the answer otherwise."""
    from sidekick.run_protocol import RunTaskArgs
    from sidekick.mcp_tools import run_task_argument_problem
    from sidekick.usage import tracing_meta

    def answer(result: dict[str, Any]) -> dict[str, Any]:
        return result if era is None else complete(as_json_text(result))

    problem = run_task_argument_problem(arguments)
    if problem is not None:
        return answer(error_result(problem))
    args = RunTaskArgs.model_validate(arguments or {})
    params = RunParams(task=args.task, max_steps=args.max_steps, context=args.context, timeout_ms=args.timeout_ms,
                       framework=args.framework, meta=tracing_meta(ctx.params.get("_meta")))
    task = ctx.params.get("task") if era is None and state.protocol_version in TASK_VERSIONS else None
    as_task = isinstance(task, dict) or (era is not None and era.has_extension(TASKS_EXTENSION))
    record: list[TaskRecord] = []

    def progress(value: int, message: str) -> None:
        if record:
            record[0].status_message = message
        if era is None or not as_task:  # the tasks extension has no progress notifications, only statusMessage
            ctx.progress(value, message)

    try:
        built = prepare_run(state, params, progress=progress if as_task or ctx.progress_token is not None else None)
    except RpcError as exc:  # configuration: no model, unknown framework
        return answer(error_result(f"run_task could not start: {exc.message}"))
    if not as_task:
        return answer(tool_result(await built.execute()))
    return start_task(state, ctx, built, era, task, record)


def start_task(state: ServerState, ctx: RequestContext, built: Run, era: Envelope | None, task: Any,
               record: list[TaskRecord]) -> dict[str, Any]:
    from sidekick.mcp_tasks import LEGACY, MODERN

    async def work(_: TaskRecord) -> dict[str, Any]:
        result = tool_result(await built.execute())
        return result if era is None else complete(as_json_text(result))

    ttl = task.get("ttl") if isinstance(task, dict) else None
    created = state.tasks.start(MODERN if era else LEGACY, work, ttl if isinstance(ttl, int) else None,
                                ctx.session.track)
    record.append(created)
    log.info("run_task %s runs as task %s", ctx.id, created.task_id)
    if era is not None:
        return complete(created.render(MODERN), "task")
    return {"task": created.render(LEGACY), "_meta": {IMMEDIATE_RESPONSE_KEY: (
        f"run_task is running as task {created.task_id}; its answer comes with tasks/result.")}}


async def run_task(state: ServerState, ctx: RequestContext, params: RunParams) -> RunResult:
    """One `sidekick/run`: built by `build_run`, its host tools called back over this session."""
    timeout_s = params.host_tool_timeout_ms / 1000

    async def call_host(name: str, arguments: dict[str, Any]) -> Any:
        # relatedRequestId tells a host running many runs at once which run this call belongs to.
        call = HostCallToolParams(name=name, arguments=arguments, meta=RequestMeta(related_request_id=ctx.id))
        return await ctx.session.request("host/callTool", to_wire(call), timeout=timeout_s)

    progress = ctx.progress if ctx.progress_token is not None else None
    return await prepare_run(state, params, call_host, progress).execute()


async def run_modern(state: ServerState, ctx: RequestContext, params: RunParams, era: Envelope) -> dict[str, Any]:
    """`sidekick/run` under 2026-07-28: host tools by multi-round-trip (`sidekick.mcp_rounds`)."""
    request_state, responses = ctx.params.get("requestState"), ctx.params.get("inputResponses")
    if responses is not None and not isinstance(responses, dict):
        raise InvalidParams("Invalid params: inputResponses must be an object (input request key → result)")
    if request_state is not None:
        suspended = state.rounds.resume(request_state, params.task)
        suspended.answer(responses or {})
        outcome = await state.rounds.advance(suspended, ctx)
    elif responses is not None:
        raise InvalidParams("Invalid params: inputResponses need the requestState of the input_required result "
                            "they answer")
    elif params.host_tools:
        era.require_extension(SIDEKICK_EXTENSION, "a run with hostTools (host tools are asked for in "
                                                  "input_required results)")
        suspended = state.rounds.begin(params.task, params.host_tool_timeout_ms / 1000)
        built = prepare_run(state, params, suspended.call_host, suspended.progress)

        async def start(_: Any) -> RunResult:
            return await built.execute()

        outcome = await state.rounds.advance(suspended, ctx, start, ctx.session.track)
    else:
        outcome = await run_task(state, ctx, params)
    if isinstance(outcome, dict):
        return outcome
    return complete(outcome.model_dump(mode="json", by_alias=True, exclude_none=True))
