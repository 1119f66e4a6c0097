"""Wire models of `sidekick/run`: its params, its result, and the pieces they are made of."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import ConfigDict, Field

from sidekick.protocol import DepthBounded, DepthBoundedObject, RequestMeta, ToolSpec, WireModel

StopReason = Literal["done", "max_steps", "timeout", "token_budget", "error"]

DEFAULT_MAX_STEPS = 10
DEFAULT_TRANSCRIPT_BUDGET_CHARS = 60_000
MIN_CONTEXT_TOKENS = 256


class ModelSettings(WireModel):
    """Which OpenAI-compatible endpoint and model to use; unset fields come from the environment."""

    model_config = ConfigDict(extra="forbid")

    provider: Optional[str] = Field(default=None, description=(
        "The model provider (default $SIDEKICK_MODEL_PROVIDER, else openai: any OpenAI-compatible endpoint)"))
    base_url: Optional[str] = None
    model: Optional[str] = None
    api_key: Optional[str] = Field(default=None, repr=False)
    temperature: Optional[float] = Field(default=None, ge=0, le=2)
    max_tokens: Optional[int] = Field(default=None, gt=0, description=(
        "Most tokens one model turn may generate (default $SIDEKICK_MAX_TOKENS, else 1024)"))
    stream: Optional[bool] = None
    parallel_tool_calls: Optional[bool] = None
    max_retries: Optional[int] = Field(default=None, ge=0, le=10)
    request_timeout_ms: Optional[int] = Field(default=None, gt=0)
    context_tokens: Optional[int] = Field(default=None, ge=MIN_CONTEXT_TOKENS, description=(
        "The model's context window in tokens; the smaller of this and what the endpoint reports is used"))


class RunParams(WireModel):
    """Params of `sidekick/run`."""

    task: str = Field(min_length=1)
    framework: Optional[str] = Field(default=None, description=(
        "What runs the task: native (default, or $SIDEKICK_FRAMEWORK), upfront, langgraph, or an installed "
        "plugin; initialize lists them in capabilities.experimental.sidekick.frameworks"))
    context: Optional[dict[str, Any]] = None
    messages: Optional[list[dict[str, Any]]] = None
    tools: Optional[list[str]] = None
    host_tools: Optional[list[ToolSpec]] = None
    model: Optional[ModelSettings] = None
    system: Optional[str] = None
    max_steps: int = Field(default=DEFAULT_MAX_STEPS, ge=1, le=200)
    timeout_ms: Optional[int] = Field(default=None, gt=0)
    token_budget: Optional[int] = Field(default=None, gt=0)
    transcript_budget_chars: int = Field(default=DEFAULT_TRANSCRIPT_BUDGET_CHARS, ge=2_000)
    host_tool_timeout_ms: int = Field(default=120_000, gt=0)
    meta: Optional[RequestMeta] = Field(default=None, alias="_meta")


class RunTaskArgs(WireModel):
    """Arguments of the MCP tool `run_task`: the agent loop offered to MCP hosts as one tool."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"additionalProperties": False})

    task: str = Field(min_length=1, description="What to do, in plain words. The sidekick plans, calls its "
                                                "tools, reads every result and answers.")
    max_steps: int = Field(default=DEFAULT_MAX_STEPS, ge=1, le=200, description="Most model turns to take.")
    context: Optional[dict[str, Any]] = Field(default=None, description="Facts the task may need.")
    timeout_ms: Optional[int] = Field(default=None, gt=0, description="Stop after this many milliseconds.")
    framework: Optional[str] = Field(default=None, description="What runs the task (default native).")


class Step(WireModel):
    """One tool call the run made."""

    tool: str
    arguments: DepthBounded
    ok: bool
    preview: str
    duration_ms: float
    source: Literal["builtin", "host", "unknown"] = "builtin"
    repeated: bool = False  # the same call with the same arguments had succeeded: not run again


class Usage(WireModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.total_tokens += other.total_tokens


class RunError(WireModel):
    code: int
    message: str
    kind: Optional[str] = None


class RunResult(WireModel):
    """Result of `sidekick/run`."""

    text: str
    stop_reason: StopReason
    steps: list[Step]
    tools_used: list[str]
    usage: Usage
    messages: list[DepthBoundedObject]
    model_turns: int
    duration_ms: float
    error: Optional[RunError] = None
