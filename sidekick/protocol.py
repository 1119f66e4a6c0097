"""The pydantic models of every method's params and result and every notification.

These models are the single source of truth for the wire: handlers validate with them, and
schemas/ is generated from them (`python -m sidekick.schemas`). Field names are snake_case in Python
and camelCase on the wire.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

SUPPORTED_PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST_PROTOCOL_VERSION = SUPPORTED_PROTOCOL_VERSIONS[-1]

LogLevel = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
RequestId = Union[str, int]


# pydantic will not serialize past ~255 levels and json past ~1000; values written by a model or a page
# (tool arguments) are cut well before either, so such a value costs its own depth, never the whole answer.
MAX_VALUE_DEPTH = 64


def nests_within(value: Any, levels: int = MAX_VALUE_DEPTH) -> bool:
    """Whether `value`'s containers nest at most `levels` deep (recursing no deeper than that)."""
    if isinstance(value, dict):
        return levels > 0 and all(nests_within(v, levels - 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return levels > 0 and all(nests_within(v, levels - 1) for v in value)
    return True


def _cut(value: Any, levels: int) -> Any:
    if not isinstance(value, (dict, list, tuple)):
        return value
    if levels == 0:
        return f"(cut: nested deeper than {MAX_VALUE_DEPTH} levels)"
    if isinstance(value, dict):
        return {k: _cut(v, levels - 1) for k, v in value.items()}
    return [_cut(v, levels - 1) for v in value]


def cut_depth(value: Any) -> Any:
    """`value` itself when its containers nest at most MAX_VALUE_DEPTH deep, else a copy cut at that depth."""
    return value if nests_within(value) else _cut(value, MAX_VALUE_DEPTH)


DepthBounded = Annotated[Any, BeforeValidator(cut_depth)]
"""Any JSON value, cut at MAX_VALUE_DEPTH when validated."""
DepthBoundedObject = Annotated[dict[str, Any], BeforeValidator(cut_depth)]


class WireModel(BaseModel):
    """camelCase on the wire; unknown keys from newer peers are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore",
                              defer_build=True)


def to_wire(model: WireModel) -> dict[str, Any]:
    """A model as the params or result object it is on the wire: camelCase, unset members left out."""
    return model.model_dump(by_alias=True, exclude_none=True)


class OpenModel(WireModel):
    """A wire object whose extra members are kept (MCP capability maps, client info)."""

    model_config = ConfigDict(extra="allow")


class RequestMeta(OpenModel):
    progress_token: Optional[Union[str, int]] = None
    related_request_id: Optional[Union[str, int]] = Field(
        default=None, description="on host/callTool: the id of the sidekick/run request the call belongs to")


class Implementation(OpenModel):
    name: str
    version: str


# -- lifecycle -------------------------------------------------------------------------------------
class InitializeParams(WireModel):
    protocol_version: str
    capabilities: dict[str, Any] = Field(default_factory=dict)
    client_info: Optional[Implementation] = None


class InitializeResult(WireModel):
    protocol_version: str
    capabilities: dict[str, Any]
    server_info: Implementation
    instructions: Optional[str] = None


class EmptyParams(WireModel):
    meta: Optional[RequestMeta] = Field(default=None, alias="_meta")


class EmptyResult(WireModel):
    pass


class SetLevelParams(WireModel):
    level: LogLevel


class CancelledParams(WireModel):
    request_id: RequestId
    reason: Optional[str] = None


class ProgressParams(WireModel):
    progress_token: Union[str, int]
    progress: float
    total: Optional[float] = None
    message: Optional[str] = None


class LogMessageParams(WireModel):
    level: LogLevel
    logger: Optional[str] = None
    data: Any


# -- tools -----------------------------------------------------------------------------------------
class ToolAnnotations(WireModel):
    """MCP's hints about what a tool does (absent: not read-only, destructive, open world)."""

    title: Optional[str] = None
    read_only_hint: Optional[bool] = None
    destructive_hint: Optional[bool] = None
    idempotent_hint: Optional[bool] = None
    open_world_hint: Optional[bool] = None


class ToolSpec(WireModel):
    name: str
    title: Optional[str] = None
    description: str
    input_schema: dict[str, Any]
    output_schema: Optional[dict[str, Any]] = None
    annotations: Optional[ToolAnnotations] = None
    execution: Optional[dict[str, Any]] = Field(default=None, description=(
        'tools/list under 2025-11-25: {"taskSupport": "optional"} on run_task'))


class ListToolsParams(WireModel):
    cursor: Optional[str] = None


class ListToolsResult(WireModel):
    tools: list[ToolSpec]


class CallToolParams(WireModel):
    name: str
    arguments: Optional[dict[str, Any]] = None
    meta: Optional[RequestMeta] = Field(default=None, alias="_meta")


class TextContent(OpenModel):
    type: Literal["text"] = "text"
    text: str


class CallToolResult(WireModel):
    content: list[TextContent]
    structured_content: Optional[dict[str, Any]] = None
    is_error: bool = False


class HostCallToolParams(WireModel):
    """Sent by the sidekick to the host: run one of the host's own tools (an agent action)."""

    name: str
    arguments: dict[str, Any]
    meta: Optional[RequestMeta] = Field(default=None, alias="_meta")


class HostCallToolResult(WireModel):
    """The host's answer to `host/callTool`. Content blocks other than text are accepted and ignored."""

    content: list[dict[str, Any]] = Field(default_factory=list)
    structured_content: Optional[dict[str, Any]] = None
    is_error: bool = False
