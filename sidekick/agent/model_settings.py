"""Where a model's settings come from: run params, then SIDEKICK_* and OPENAI_* environment, then defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass

from sidekick.config import url_problem
from sidekick.errors import ConfigurationError
from sidekick.redact import remember_secret
from sidekick.run_protocol import MIN_CONTEXT_TOKENS, ModelSettings

DEFAULT_MODEL = "gpt-4o-mini"
OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MAX_TOKENS = 1024  # per model turn: a small model that rambles must not eat the window or the time
DEFAULT_MAX_RETRIES = 2
DEFAULT_REQUEST_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ResolvedModelSettings:
    """Model settings with every layer applied. `max_retries` counts retries after the first attempt."""

    base_url: str
    model: str
    api_key: str
    temperature: float | None = None
    max_tokens: int | None = DEFAULT_MAX_TOKENS
    stream: bool = False
    parallel_tool_calls: bool | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    context_tokens: int | None = None


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def env_int(name: str, minimum: int = 1) -> int | None:
    """A whole-number setting from the environment; None when unset, a ConfigurationError when malformed."""
    raw = _env(name)
    if raw is None:
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise ConfigurationError(f"{name} must be a whole number of at least {minimum}, got {raw!r}")
    return value


def resolve_max_tokens(given: int | None) -> int:
    """The per-turn completion limit: `given` → SIDEKICK_MAX_TOKENS → DEFAULT_MAX_TOKENS."""
    if given is not None:
        if given < 1:
            raise ConfigurationError(f"max tokens must be at least 1, got {given}")
        return given
    return env_int("SIDEKICK_MAX_TOKENS") or DEFAULT_MAX_TOKENS


def resolve_settings(given: ModelSettings | None) -> ResolvedModelSettings:
    """First match wins: run params → SIDEKICK_* → OPENAI_* environment → defaults."""
    given = given or ModelSettings()
    env_base_url = _env("SIDEKICK_BASE_URL", "OPENAI_BASE_URL") or OPENAI_BASE_URL
    base_url = given.base_url or env_base_url
    if (problem := url_problem(base_url)) is not None:  # else it fails late, as a connection error after retries
        raise ConfigurationError(f"The model base URL {problem}")
    model = given.model or _env("SIDEKICK_MODEL", "OPENAI_MODEL") or DEFAULT_MODEL
    # The operator's key goes only to the operator's endpoint, never to a base URL a request names.
    same_endpoint = base_url.rstrip("/") == env_base_url.rstrip("/")
    api_key = given.api_key or (_env("SIDEKICK_API_KEY", "OPENAI_API_KEY") if same_endpoint else None)
    remember_secret(api_key)
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
        max_tokens=resolve_max_tokens(given.max_tokens),
        stream=given.stream if given.stream is not None else stream_env in ("1", "true", "yes"),
        parallel_tool_calls=given.parallel_tool_calls,
        max_retries=given.max_retries if given.max_retries is not None else DEFAULT_MAX_RETRIES,
        request_timeout_s=given.request_timeout_ms / 1000 if given.request_timeout_ms else DEFAULT_REQUEST_TIMEOUT_S,
        context_tokens=given.context_tokens or env_int("SIDEKICK_CONTEXT_TOKENS", MIN_CONTEXT_TOKENS),
    )
