"""The one adapter over the `openai` AsyncOpenAI client, and the only place its exceptions are known.

`openai` is imported lazily (it costs ~0.5 s and ~50 MB), and clients are shared per endpoint so that
many concurrent runs reuse one connection pool.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from sidekick.agent.chat import ModelTurn, ResolvedModelSettings, ToolCall
from sidekick.agent.wire import Usage
from sidekick.errors import ModelError

MAX_CLIENTS = 16
_clients: dict[tuple[Any, ...], Any] = {}
log = logging.getLogger("sidekick.model")


def _client(settings: ResolvedModelSettings) -> Any:
    # A client's connection pool belongs to the event loop it was made on, hence the loop in the key.
    key = (id(asyncio.get_running_loop()), settings.base_url, settings.api_key, settings.max_retries)
    client = _clients.pop(key, None)
    if client is None:
        from openai import AsyncOpenAI

        client = AsyncOpenAI(base_url=settings.base_url, api_key=settings.api_key,
                             max_retries=settings.max_retries)
        if len(_clients) >= MAX_CLIENTS:
            _clients.pop(next(iter(_clients)))  # the least recently used; its pool closes when collected
    _clients[key] = client
    return client


def _redact(text: str, settings: ResolvedModelSettings) -> str:
    if settings.api_key and len(settings.api_key) >= 6:
        text = text.replace(settings.api_key, "***")
    return text


def map_openai_error(exc: Exception, settings: ResolvedModelSettings) -> ModelError:
    """Turn an `openai` exception into the sidekick's own ModelError with a clear, secret-free message."""
    import openai

    where = f"{settings.base_url} (model {settings.model})"
    detail = _redact(getattr(exc, "message", None) or str(exc), settings)
    if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return ModelError(f"The model endpoint refused the API key at {where}: {detail}", kind="auth")
    if isinstance(exc, openai.RateLimitError):
        return ModelError(f"Rate limited by {where} after retries: {detail}", kind="rate_limit", retryable=True)
    if isinstance(exc, openai.APITimeoutError):
        return ModelError(f"The model at {where} did not answer in time", kind="timeout", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return ModelError(f"Could not connect to the model endpoint {where}: {detail}", kind="connection",
                          retryable=True)
    if isinstance(exc, openai.NotFoundError):
        return ModelError(f"Not found at {where} (is the model name right?): {detail}", kind="not_found")
    if isinstance(exc, (openai.BadRequestError, openai.UnprocessableEntityError)):
        return ModelError(f"The model endpoint {where} rejected the request: {detail}", kind="bad_request")
    if isinstance(exc, openai.APIStatusError):
        return ModelError(f"The model endpoint {where} failed with HTTP {exc.status_code}: {detail}",
                          kind="server", retryable=exc.status_code >= 500)
    if isinstance(exc, (openai.APIResponseValidationError, json.JSONDecodeError, ValueError)):
        return ModelError(f"The model endpoint {where} sent a response that is not a valid chat completion: "
                          f"{detail}", kind="bad_response")
    return ModelError(f"The model endpoint {where} failed: {type(exc).__name__}: {detail}", kind="error")


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    return Usage(prompt_tokens=getattr(raw, "prompt_tokens", 0) or 0,
                 completion_tokens=getattr(raw, "completion_tokens", 0) or 0,
                 total_tokens=getattr(raw, "total_tokens", 0) or 0)


class OpenAIChatModel:
    """ChatModel over any OpenAI-compatible `/chat/completions` endpoint, plain or streamed."""

    def __init__(self, settings: ResolvedModelSettings) -> None:
        self.settings = settings

    def _request(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                 timeout_s: float | None) -> dict[str, Any]:
        s = self.settings
        request: dict[str, Any] = {"model": s.model, "messages": messages,
                                   "timeout": min(filter(None, (timeout_s, s.request_timeout_s)))}
        if tools:
            request["tools"] = [{"type": "function", "function": {
                "name": t["name"], "description": t.get("description", ""), "parameters": t["inputSchema"]}}
                for t in tools]
            if s.parallel_tool_calls is not None:  # some endpoints reject the field: only when asked
                request["parallel_tool_calls"] = s.parallel_tool_calls
        if s.temperature is not None:
            request["temperature"] = s.temperature
        if s.max_tokens is not None:
            request["max_tokens"] = s.max_tokens
        if s.stream:
            request["stream"] = True
            request["stream_options"] = {"include_usage": True}
        return request

    async def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                       timeout_s: float | None) -> ModelTurn:
        request = self._request(messages, tools, timeout_s)
        timeout = request.pop("timeout")
        try:
            # The low-level `post` skips the client's recursive TypedDict transform of the body, which costs
            # ~2 ms of CPU per call on a long transcript; errors, retries and parsing stay the client's.
            from openai import AsyncStream
            from openai.types.chat import ChatCompletion, ChatCompletionChunk

            response = await _client(self.settings).post(
                "/chat/completions", body=request, cast_to=ChatCompletion, options={"timeout": timeout},
                stream=bool(request.get("stream")), stream_cls=AsyncStream[ChatCompletionChunk])
            if self.settings.stream:
                return await self._collect_stream(response)
            return self._turn(response)
        except ModelError:
            raise
        except Exception as exc:  # includes transport errors raised while iterating a broken stream
            raise map_openai_error(exc, self.settings) from None

    def _bad_response(self, what: str, retryable: bool = False) -> ModelError:
        return ModelError(f"The model endpoint {self.settings.base_url} {what}", kind="bad_response",
                          retryable=retryable)

    def _turn(self, response: Any) -> ModelTurn:
        # The client does not validate responses: a 200 of the wrong shape must be a clear error here,
        # not an AttributeError deep in the loop.
        try:
            choices = response.choices
            if not isinstance(choices, list) or not choices:
                raise self._bad_response("answered with no choices")
            message = choices[0].message
            content = message.content
            calls = [ToolCall(id=c.id or "", name=c.function.name or "", arguments=c.function.arguments)
                     for c in message.tool_calls or [] if getattr(c, "function", None)]
            turn = ModelTurn(content=content, tool_calls=calls, usage=_usage(response.usage),
                             finish_reason=choices[0].finish_reason)
        except (AttributeError, TypeError, KeyError, IndexError) as exc:
            log.debug("malformed completion: %r", exc)
            raise self._bad_response("sent a completion that is not a chat completion (wrong shape)") from None
        return self._validated(turn)

    async def _collect_stream(self, stream: Any) -> ModelTurn:
        content: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        usage = finish = None
        seen_choice = False
        try:
            async for chunk in stream:
                usage = _usage(getattr(chunk, "usage", None)) or usage
                for choice in chunk.choices or []:
                    seen_choice = True
                    finish = choice.finish_reason or finish
                    delta = choice.delta
                    if delta is None:
                        continue
                    if delta.content:
                        content.append(delta.content)
                    for part in delta.tool_calls or []:
                        call = calls.setdefault(part.index or 0, {"id": None, "name": "", "arguments": ""})
                        call["id"] = part.id or call["id"]
                        if part.function is not None:
                            call["name"] += part.function.name or ""
                            call["arguments"] += part.function.arguments or ""
        except (AttributeError, TypeError, KeyError, IndexError) as exc:
            log.debug("malformed stream chunk: %r", exc)
            raise self._bad_response("streamed a chunk that is not a chat completion chunk (wrong shape)") from None
        if not seen_choice:
            raise self._bad_response("streamed no choices")
        if finish is None:  # a stream cut short: its text and tool arguments are truncated
            raise self._bad_response("ended its stream before the model finished", retryable=True)
        tool_calls = [ToolCall(id=c["id"] or "", name=c["name"], arguments=c["arguments"])
                      for _, c in sorted(calls.items())]
        return self._validated(ModelTurn(content="".join(content) or None, tool_calls=tool_calls, usage=usage,
                                         finish_reason=finish))

    def _validated(self, turn: ModelTurn) -> ModelTurn:
        if turn.content is not None and not isinstance(turn.content, str):
            raise self._bad_response(f"sent content of type {type(turn.content).__name__}, not text")
        if any(not isinstance(call.name, str) for call in turn.tool_calls):
            raise self._bad_response("sent a tool call without a name")
        return turn
