"""Wire models of MCP beyond the handshake era's core: the 2026-07-28 per-request envelope and results,
`server/discover`, tasks (2025-11-25's and the `io.modelcontextprotocol/tasks` extension's) and multi-round-trip
(`input_required`) results.

Like `sidekick.protocol`, these models are the source of schemas/ (see `MCP_WIRE` at the end); handlers import
this module lazily, so a process that never meets a 2026-07-28 client or a task never builds them.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, Optional, Union

from pydantic import BaseModel, Field

from sidekick.run_protocol import RunParams, RunResult
from sidekick.protocol import (
    CallToolParams,
    CallToolResult,
    Implementation,
    ListToolsParams,
    ListToolsResult,
    LogLevel,
    OpenModel,
    TextContent,
    WireModel,
)
from sidekick.mcp_era import (
    CLIENT_CAPABILITIES_KEY,
    CLIENT_INFO_KEY,
    LOG_LEVEL_KEY,
    PROTOCOL_VERSION_KEY,
    RELATED_TASK_KEY,
    SERVER_INFO_KEY,
)

TaskStatus = Literal["working", "input_required", "completed", "failed", "cancelled"]


# -- the 2026-07-28 envelope -----------------------------------------------------------------------
class ModernRequestMeta(OpenModel):
    """`_meta` of every 2026-07-28 request: its protocol version and the client's capabilities for it."""

    protocol_version: str = Field(alias=PROTOCOL_VERSION_KEY)
    client_capabilities: dict[str, Any] = Field(alias=CLIENT_CAPABILITIES_KEY, description=(
        "The client's capabilities for this request; `extensions` may name io.modelcontextprotocol/tasks "
        "(run_task answers with a task) and io.github.eliza-sidekick/sidekick (host tools over input_required)"))
    client_info: Optional[Implementation] = Field(default=None, alias=CLIENT_INFO_KEY)
    log_level: Optional[LogLevel] = Field(default=None, alias=LOG_LEVEL_KEY)
    progress_token: Optional[Union[str, int]] = None


class ModernParams(WireModel):
    meta: ModernRequestMeta = Field(alias="_meta")


class ResultMeta(OpenModel):
    server_info: Optional[Implementation] = Field(default=None, alias=SERVER_INFO_KEY)


class ModernResult(WireModel):
    """What every 2026-07-28 result carries; alone, the empty acknowledgement. (These models document the
    wire: the handlers build the same shapes as dicts, and tests hold the two together.)"""

    result_type: Literal["complete"]
    meta: Optional[ResultMeta] = Field(default=None, alias="_meta")


class CacheHints(WireModel):
    ttl_ms: int = Field(description="How long the client may reuse this result, in milliseconds")
    cache_scope: Literal["public", "private"]


class DiscoverResult(ModernResult, CacheHints):
    supported_versions: list[str] = Field(description=(
        "Every revision served: 2026-07-28 per request; the older ones after an initialize handshake"))
    capabilities: dict[str, Any]
    instructions: Optional[str] = None


class ModernListToolsParams(ListToolsParams, ModernParams):
    pass


class ModernListToolsResult(ListToolsResult, ModernResult, CacheHints):
    next_cursor: Optional[str] = None


class ModernCallToolParams(CallToolParams, ModernParams):
    input_responses: Optional[dict[str, Any]] = None
    request_state: Optional[str] = None


class ModernCallToolResult(ModernResult):
    content: list[TextContent] = Field(description="With structuredContent: exactly that JSON, as text")
    structured_content: Optional[Any] = None
    is_error: bool = False


# -- multi round-trip ------------------------------------------------------------------------------
class InputRequest(WireModel):
    method: str = Field(description="host/callTool (our extension) for a host tool the run wants")
    params: dict[str, Any]


class InputRequiredResult(WireModel):
    """The run needs the host first: answer each input request and retry with inputResponses + requestState."""

    result_type: Literal["input_required"]
    input_requests: Optional[dict[str, InputRequest]] = None
    request_state: Optional[str] = Field(default=None, description="Opaque; echo it exactly on the retry")
    meta: Optional[ResultMeta] = Field(default=None, alias="_meta")


class ModernRunParams(RunParams):
    """`sidekick/run` under 2026-07-28: a retry after input_required adds inputResponses and requestState."""

    input_responses: Optional[dict[str, Any]] = Field(default=None, description=(
        "key → the host/callTool result ({content, isError}) for each input request answered"))
    request_state: Optional[str] = None


class ModernRunResult(RunResult):
    result_type: Literal["complete"]
    meta: Optional[ResultMeta] = Field(default=None, alias="_meta")


# -- tasks -----------------------------------------------------------------------------------------
class TaskMetadata(WireModel):
    ttl: Optional[int] = Field(default=None, description="Requested retention from creation, in milliseconds")


class TaskCallToolParams(CallToolParams):
    """`tools/call` under 2025-11-25: `task` asks for a task (run_task only: its taskSupport is optional)."""

    task: Optional[TaskMetadata] = None


class TaskBase(WireModel):
    task_id: str
    status: TaskStatus
    status_message: Optional[str] = None
    created_at: str
    last_updated_at: str


class LegacyTask(TaskBase):
    """A task as 2025-11-25 spells it."""

    ttl: Optional[int]
    poll_interval: Optional[int] = None


class LegacyCreateTaskResult(WireModel):
    task: LegacyTask
    meta: Optional[dict[str, Any]] = Field(default=None, alias="_meta")


class TaskIdParams(WireModel):
    task_id: str
    meta: Optional[dict[str, Any]] = Field(default=None, alias="_meta")


class CursorParams(WireModel):
    cursor: Optional[str] = None


class LegacyListTasksResult(WireModel):
    tasks: list[LegacyTask]
    next_cursor: Optional[str] = None


class LegacyTaskPayloadResult(CallToolResult):
    meta: dict[str, Any] = Field(alias="_meta", description=f"{RELATED_TASK_KEY}: {{taskId}}")


class ModernTask(TaskBase):
    """A task as the io.modelcontextprotocol/tasks extension spells it."""

    ttl_ms: Optional[int]
    poll_interval_ms: Optional[int] = None


class ModernCreateTaskResult(ModernTask):
    result_type: Literal["task"]
    meta: Optional[ResultMeta] = Field(default=None, alias="_meta")


class ModernGetTaskResult(ModernTask, ModernResult):
    result: Optional[dict[str, Any]] = Field(default=None, description="completed: the tools/call result")
    error: Optional[dict[str, Any]] = Field(default=None, description="failed: the JSON-RPC error")
    input_requests: Optional[dict[str, InputRequest]] = None


class UpdateTaskParams(TaskIdParams):
    input_responses: dict[str, Any]


# -- what schemas/ documents -----------------------------------------------------------------------
class McpWire(NamedTuple):
    """A method as each revision serves it. `params`/`result` replace the table's own models for the
    handshake era (None: keep them); `modern_*` document 2026-07-28 where it differs."""

    name: str
    direction: str
    revisions: tuple[str, ...]
    params: Optional[type[BaseModel]] = None
    result: Optional[type[BaseModel]] = None
    other_results: tuple[type[BaseModel], ...] = ()  # handshake-era answers besides `result`
    modern_params: Optional[type[BaseModel]] = None
    modern_results: tuple[type[BaseModel], ...] = ()


HANDSHAKE = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
EVERY = (*HANDSHAKE, "2026-07-28")
MODERN = ("2026-07-28",)
MCP_WIRE: tuple[McpWire, ...] = (
    McpWire("initialize", "host", HANDSHAKE),
    McpWire("notifications/initialized", "host", HANDSHAKE),
    McpWire("ping", "both", EVERY),
    McpWire("logging/setLevel", "host", HANDSHAKE),
    McpWire("server/discover", "host", MODERN, ModernParams, DiscoverResult),
    McpWire("tools/list", "host", EVERY, modern_params=ModernListToolsParams,
            modern_results=(ModernListToolsResult,)),
    McpWire("tools/call", "host", EVERY, params=TaskCallToolParams, other_results=(LegacyCreateTaskResult,),
            modern_params=ModernCallToolParams,
            modern_results=(ModernCallToolResult, ModernCreateTaskResult)),
    McpWire("sidekick/run", "host", EVERY, modern_params=ModernRunParams,
            modern_results=(ModernRunResult, InputRequiredResult)),
    McpWire("tasks/get", "host", ("2025-11-25", "2026-07-28"), TaskIdParams, LegacyTask,
            modern_params=TaskIdParams, modern_results=(ModernGetTaskResult,)),
    McpWire("tasks/result", "host", ("2025-11-25",), TaskIdParams, LegacyTaskPayloadResult),
    McpWire("tasks/list", "host", ("2025-11-25",), CursorParams, LegacyListTasksResult),
    McpWire("tasks/cancel", "host", ("2025-11-25", "2026-07-28"), TaskIdParams, LegacyTask,
            modern_params=TaskIdParams, modern_results=(ModernResult,)),
    McpWire("tasks/update", "host", MODERN, UpdateTaskParams, ModernResult),
    McpWire("host/callTool", "sidekick", HANDSHAKE),
    McpWire("notifications/cancelled", "both", EVERY),
    McpWire("notifications/progress", "sidekick", EVERY),
    McpWire("notifications/message", "sidekick", HANDSHAKE),
)
"""Only the revisions column is new for the table's own methods; a new method has params and result here."""
