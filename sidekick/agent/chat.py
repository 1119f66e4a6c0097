"""The small interface between the loop and a chat model, and where the model's settings come from."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Protocol

from sidekick.agent.wire import ModelSettings, Usage
from sidekick.errors import ConfigurationError

DEFAULT_MODEL = "gpt-4o-mini"
OPENAI_BASE_URL = "https://api.openai.com/v1"


@dataclass
class ToolCall:
    """A call the model asked for. `arguments` is the raw text the model produced (maybe not JSON);
    an empty `id` means the endpoint gave none (the loop assigns one)."""

    id: str
    name: str
    arguments: Any


@dataclass
class ModelTurn:
    """One answer of the model: text, tool calls, or both."""

    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str | None = None


class ChatModel(Protocol):
    """Anything that turns a transcript and tool specs into the model's next turn.

    Implementations raise `sidekick.errors.ModelError` for endpoint failures and nothing else.
    """

    async def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                       timeout_s: float | None) -> ModelTurn: ...


@dataclass(frozen=True)
class ResolvedModelSettings:
    base_url: str
    model: str
    api_key: str
    temperature: float | None = None
    max_tokens: int | None = None
    stream: bool = False
    parallel_tool_calls: bool | None = None
    max_retries: int = 2
    request_timeout_s: float = 120.0


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def resolve_settings(given: ModelSettings | None) -> ResolvedModelSettings:
    """First match wins: run params → SIDEKICK_* → OPENAI_* environment → defaults."""
    given = given or ModelSettings()
    env_base_url = _env("SIDEKICK_BASE_URL", "OPENAI_BASE_URL") or OPENAI_BASE_URL
    base_url = given.base_url or env_base_url
    model = given.model or _env("SIDEKICK_MODEL", "OPENAI_MODEL") or DEFAULT_MODEL
    # The operator's key goes only to the operator's endpoint, never to a base URL a request names.
    same_endpoint = base_url.rstrip("/") == env_base_url.rstrip("/")
    api_key = given.api_key or (_env("SIDEKICK_API_KEY", "OPENAI_API_KEY") if same_endpoint else None)
    if not api_key:
        if base_url.rstrip("/") == OPENAI_BASE_URL:
            raise ConfigurationError(
                "No API key for the model endpoint: set SIDEKICK_API_KEY (or OPENAI_API_KEY), or point "
                "SIDEKICK_BASE_URL at a local OpenAI-compatible server such as Ollama")
        api_key = "not-needed"  # local servers (Ollama, vLLM, LM Studio) ignore it, the client insists
    stream_env = _env("SIDEKICK_STREAM")
    return ResolvedModelSettings(
        base_url=base_url,
        model=model,
        api_key=api_key,
        temperature=given.temperature,
        max_tokens=given.max_tokens,
        stream=given.stream if given.stream is not None else stream_env in ("1", "true", "yes"),
        parallel_tool_calls=given.parallel_tool_calls,
        max_retries=given.max_retries if given.max_retries is not None else 2,
        request_timeout_s=(given.request_timeout_ms or 120_000) / 1000,
    )
