"""The one adapter over the `openai` AsyncOpenAI client, and the only place its exceptions are known.

`openai` is imported lazily (it costs ~0.5 s and ~50 MB), and clients are shared per endpoint so that
concurrent runs reuse their connections. An endpoint has a few clients (lanes) once many requests are in
flight: the HTTP pool under the client walks all its connections on every request and every response (a
keep-alive check for every idle one, cheap on the asyncio backend, but several passes), so one pool of 500
connections costs each request thousands of steps; 16 requests a lane measured at ~0.65 of one pool's CPU.
Retries are ours, not the client's: the client would retry a generation that timed out (paying for it
twice) and sleeps past the run's deadline.
"""

from __future__ import annotations

import asyncio
import email.utils
import io
import json
import logging
import random
import time
from typing import Any
from urllib.parse import urlsplit

from sidekick.agent import context, grounding, response_cap
from sidekick.agent.chat import ModelTurn, ToolCall
from sidekick.agent.model_settings import ResolvedModelSettings
from sidekick.agent.tokens import message_tokens, tools_tokens
from sidekick.run_protocol import Usage
from sidekick.errors import ContextOverflowError, ModelError

MAX_ENDPOINTS = 16  # endpoints (base URL and key) with clients kept open, the least recently used closed first
LANE_REQUESTS = 16  # requests in flight on one client before the endpoint's next client takes new ones
MAX_LANES = 64  # clients per endpoint; past LANE_REQUESTS × MAX_LANES requests the least busy one takes more
RETRIED_KINDS = {"connection", "rate_limit", "server"}  # never "timeout": the model may still be generating
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 8.0
RETRY_AFTER_MAX_S = 30.0  # an endpoint that asks for a longer wait gets its error reported instead
MIN_ATTEMPT_S = 1.0  # a retry needs at least this much of the run's time left to be worth sending
DEADLINE_GRACE_S = 0.25  # the run's own deadline fires first, so a run out of time stops as "timeout"
MAX_COMPLETION_TOKENS_HOSTS = {"api.openai.com"}  # its reasoning models refuse `max_tokens`
MAX_TURN_CHARS = 2_000_000  # text and tool calls of one turn (~500k tokens, past any model's output limit)
CALL_CHARS = 256  # what one more tool call costs against MAX_TURN_CHARS, so countless empty calls cannot pile up
_clients: dict[tuple[Any, ...], list[_Lane]] = {}
_closing: set[asyncio.Future[Any]] = set()
log = logging.getLogger("sidekick.model")


class _Lane:
    """One client of an endpoint and the requests in flight on it."""

    __slots__ = ("client", "busy", "completions_url")

    def __init__(self, settings: ResolvedModelSettings) -> None:
        from openai import AsyncOpenAI, Omit  # the class: older releases have no `omit` instance

        client = AsyncOpenAI(base_url=settings.base_url, api_key=settings.api_key, max_retries=0,
                             http_client=response_cap.http_client())
        # Its platform headers (X-Stainless-OS, -Arch, -Runtime…: the SDK's telemetry, which no endpoint needs)
        # are seven of the seventeen each request carries, merged, normalized and validated anew every time.
        telemetry = [*client.platform_headers(), "X-Stainless-Async"]
        self.client = client.with_options(default_headers=dict.fromkeys(telemetry, Omit()))
        self.busy = 0
        # The client takes an absolute URL as it is, where it would parse a path and join it to its base URL on
        # every request (two URL parses); joined here as it joins them (its base URL ends in "/").
        base = self.client.base_url
        self.completions_url = "/chat/completions" if base.query else f"{base}chat/completions"


def _lane(settings: ResolvedModelSettings) -> _Lane:
    """The lane for the endpoint's next request: the first with room, else a new one, else the least busy."""
    # A client's connection pool belongs to the event loop it was made on, hence the loop in the key.
    key = (id(asyncio.get_running_loop()), settings.base_url, settings.api_key)
    lanes = _clients.pop(key, None)
    if lanes is None:
        lanes = [_Lane(settings)]
        # The limit counts this loop's endpoints only: another loop's cannot be closed from here (that loop
        # has ended, in tests), and dropping them would only turn their open sockets into ResourceWarnings.
        mine = [k for k in _clients if k[0] == key[0]]
        if len(mine) >= MAX_ENDPOINTS:
            for lane in _clients.pop(mine[0]):  # the least recently used
                closing = asyncio.ensure_future(lane.client.close())
                _closing.add(closing)
                closing.add_done_callback(_closing.discard)
    _clients[key] = lanes
    for lane in lanes:
        if lane.busy < LANE_REQUESTS:
            return lane
    if len(lanes) < MAX_LANES:
        lanes.append(_Lane(settings))
        return lanes[-1]
    return min(lanes, key=lambda lane: lane.busy)


def _client(settings: ResolvedModelSettings) -> Any:
    """The endpoint's client for a request that is not counted in flight (the context-window probe)."""
    return _lane(settings).client


async def close_clients() -> None:
    """Close the pooled clients of the running event loop (a clean shutdown; tests)."""
    loop_id = id(asyncio.get_running_loop())
    for key in [k for k in _clients if k[0] == loop_id]:
        for lane in _clients.pop(key):
            await lane.client.close()


def _redact(text: str, settings: ResolvedModelSettings) -> str:
    if settings.api_key and len(settings.api_key) >= 6:
        text = text.replace(settings.api_key, "***")
    return text


def retry_after_s(headers: Any) -> float | None:
    """Seconds an answer's `retry-after-ms` or `Retry-After` (seconds or an HTTP date) asks to wait."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000), ("retry-after", 1)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            when = email.utils.parsedate_tz(value) if name == "retry-after" else None
            if when is not None:
                return max(0.0, email.utils.mktime_tz(when) - time.time())
    return None


def map_openai_error(exc: Exception, settings: ResolvedModelSettings) -> ModelError:
    """Turn an `openai` exception into the sidekick's own ModelError with a clear, secret-free message."""
    import openai

    where = f"{settings.base_url} (model {settings.model})"
    too_large = response_cap.caused_by_size(exc)
    if too_large is not None:
        return ModelError(f"The model endpoint {where} sent a response past {too_large.limit:,} bytes; it was "
                          "cut off", kind="output_too_large")
    detail = _redact(getattr(exc, "message", None) or str(exc), settings)
    if isinstance(exc, openai.APIStatusError) and exc.status_code in (400, 413, 422):
        overflow = context.parse_overflow(exc.body, detail)
        if overflow is not None:
            window, prompt = overflow
            size = f" of {window} tokens" if window else ""
            return ContextOverflowError(f"The prompt does not fit the context window{size} of {where}: {detail}",
                                        context_tokens=window, prompt_tokens=prompt)
    if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return ModelError(f"The model endpoint refused the API key at {where}: {detail}", kind="auth")
    if isinstance(exc, openai.RateLimitError):
        return ModelError(f"Rate limited by {where}: {detail}", kind="rate_limit", retryable=True,
                          retry_after_s=retry_after_s(exc.response.headers))
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
                          kind="server", retryable=exc.status_code >= 500,
                          retry_after_s=retry_after_s(exc.response.headers))
    if isinstance(exc, (openai.APIResponseValidationError, json.JSONDecodeError, ValueError)):
        return ModelError(f"The model endpoint {where} sent a response that is not a valid chat completion: "
                          f"{detail}", kind="bad_response")
    return ModelError(f"The model endpoint {where} failed: {type(exc).__name__}: {detail}", kind="error")


def _schema_format(schema: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "tool_call", "schema": schema}}


def _usage(raw: Any) -> Usage | None:
    """The usage of a completion (its JSON object) or of a stream's chunk (the client's model of it)."""
    if raw is None:
        return None
    get = raw.get if isinstance(raw, dict) else lambda name: getattr(raw, name, 0)
    return Usage(prompt_tokens=get("prompt_tokens") or 0, completion_tokens=get("completion_tokens") or 0,
                 total_tokens=get("total_tokens") or 0)


class OpenAIChatModel:
    """ChatModel over any OpenAI-compatible `/chat/completions` endpoint, plain or streamed."""

    def __init__(self, settings: ResolvedModelSettings) -> None:
        self.settings = settings

    def _request(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], tool_choice: str | None = None,
                 call_schema: dict[str, Any] | None = None) -> dict[str, Any]:
        s = self.settings
        request: dict[str, Any] = {"model": s.model, "messages": messages}
        if tools:
            request["tools"] = [{"type": "function", "function": {
                "name": t["name"], "description": t.get("description", ""), "parameters": t["inputSchema"]}}
                for t in tools]
            if call_schema is not None:
                request["response_format"] = _schema_format(call_schema)
            elif tool_choice is not None:
                request.update(self._forced_call(tool_choice, tools))
            if s.parallel_tool_calls is not None:  # some endpoints reject the field: only when asked
                request["parallel_tool_calls"] = s.parallel_tool_calls
        if s.temperature is not None:
            request["temperature"] = s.temperature
        if s.max_tokens is not None:
            limit = "max_completion_tokens" if urlsplit(s.base_url).hostname in MAX_COMPLETION_TOKENS_HOSTS \
                else "max_tokens"
            request[limit] = s.max_tokens
        if s.stream:
            request["stream"] = True
            request["stream_options"] = {"include_usage": True}
        return request

    def grounds_calls(self) -> bool:
        """Whether the endpoint holds a reply to a call's JSON schema (`call_schema`): llama.cpp, once
        discovery has seen it. Other servers' handling of a schema beside tools is untested, so they are not
        asked."""
        return context.is_llama_cpp(self.settings.base_url, self.settings.model)

    def _forced_call(self, name: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
        """What makes the turn a call of `name`. llama.cpp drops an object `tool_choice` with a warning (it takes
        only "auto", "none" or "required", and with the models it runs even "required" yields prose), so there a
        JSON schema of the call constrains the reply to `{"name": …, "arguments": …}`, which the text-call
        parser reads as the call."""
        spec = [t for t in tools if t["name"] == name]
        if not spec or not self.grounds_calls():
            return {"tool_choice": {"type": "function", "function": {"name": name}}}
        return {"response_format": _schema_format(grounding.call_schema(spec))}

    async def prompt_budget(self, tools: list[dict[str, Any]]) -> int | None:
        """Estimated tokens the messages may use beside `tools`, or None when the window is unknown."""
        s = self.settings
        discovered = await context.discover_window(_client(s), s.base_url, s.model)
        window = context.known_window(s.base_url, s.model, s.context_tokens, discovered)
        return None if window is None else context.prompt_budget(s.base_url, s.model, window, s.max_tokens, tools)

    async def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                       timeout_s: float | None, tool_choice: str | None = None,
                       call_schema: dict[str, Any] | None = None) -> ModelTurn:
        request = self._request(messages, tools, tool_choice, call_schema)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        attempt = 0
        while True:
            try:
                return await self._attempt(request, deadline)
            except ContextOverflowError as exc:
                estimate = sum(message_tokens(m) for m in messages) + tools_tokens(tools)
                context.learn_overflow(self.settings.base_url, self.settings.model, exc.context_tokens,
                                       exc.prompt_tokens, estimate, self.settings.max_tokens)
                raise
            except ModelError as exc:
                if exc.kind == "bad_request" and "response_format" in request:
                    # a schema the server cannot turn into a grammar: the turn goes unforced rather than failing
                    log.info("%s; sending the turn again without the forced call's schema", exc.message)
                    request = {k: v for k, v in request.items() if k != "response_format"}
                    continue
                delay = self._retry_delay(exc, attempt, deadline)
                if delay is None:
                    raise
                log.info("%s; retry %d of %d in %.1f s", exc.message, attempt + 1, self.settings.max_retries, delay)
            await asyncio.sleep(delay)
            attempt += 1

    def _retry_delay(self, exc: ModelError, attempt: int, deadline: float | None) -> float | None:
        if exc.kind not in RETRIED_KINDS or not exc.retryable or attempt >= self.settings.max_retries:
            return None
        if exc.retry_after_s is not None:
            if exc.retry_after_s > RETRY_AFTER_MAX_S:
                return None
            delay = exc.retry_after_s
        else:
            delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** attempt) * (1 + random.random() / 4)
        if deadline is not None and time.monotonic() + delay + MIN_ATTEMPT_S > deadline:
            return None
        return delay

    async def _attempt(self, request: dict[str, Any], deadline: float | None) -> ModelTurn:
        bound = self.settings.request_timeout_s
        if deadline is not None:
            bound = max(0.001, min(bound, deadline - time.monotonic() + DEADLINE_GRACE_S))
        lane = _lane(self.settings)  # outside the bound: the first one imports `openai` (seconds, cold)
        lane.busy += 1
        try:
            # The whole request, reading the stream included: the client's own timeout bounds only the wait
            # between two reads, which a model generating slowly never exceeds.
            return await asyncio.wait_for(self._send(lane, request, bound), bound)
        except asyncio.TimeoutError:
            raise ModelError(f"The model at {self.settings.base_url} (model {self.settings.model}) did not "
                             f"answer within {bound:.1f} s", kind="timeout") from None
        finally:
            lane.busy -= 1

    async def _send(self, lane: _Lane, request: dict[str, Any], timeout: float) -> ModelTurn:
        try:
            # The low-level `post` skips the client's recursive TypedDict transform of the body, which costs
            # ~2 ms of CPU per call on a long transcript, and `cast_to=object` its construction of a
            # ChatCompletion model from the answer's JSON, which _turn reads as it is; errors stay the client's.
            from openai import AsyncStream
            from openai.types.chat import ChatCompletionChunk

            response = await lane.client.post(
                lane.completions_url, body=request, cast_to=object, options={"timeout": timeout},
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
        """The turn in a completion's JSON, read as leniently as the client's own models read it (an absent field
        is None; a tool call without a function is skipped). A 200 of the wrong shape must be a clear error
        here, not an AttributeError deep in the loop."""
        if isinstance(response, str):  # the client's text of an answer that was not labelled JSON
            try:
                response = json.loads(response)
            except (ValueError, RecursionError):
                pass
        try:
            choices = response.get("choices")
            if not isinstance(choices, list) or not choices:
                raise self._bad_response("answered with no choices")
            message = choices[0].get("message")
            calls = []
            for call in message.get("tool_calls") or []:
                function = call.get("function") if isinstance(call, dict) else None
                if not function and not isinstance(function, dict):
                    continue
                calls.append(ToolCall(id=call.get("id") or "", name=function.get("name") or "",
                                      arguments=function.get("arguments")))
            turn = ModelTurn(content=message.get("content"), tool_calls=calls, usage=_usage(response.get("usage")),
                             finish_reason=choices[0].get("finish_reason"))
        except (AttributeError, TypeError, KeyError, IndexError) as exc:
            log.debug("malformed completion: %r", exc)
            raise self._bad_response("sent a completion that is not a chat completion (wrong shape)") from None
        turn = self._validated(turn)
        size = len(turn.content or "") + sum(
            CALL_CHARS + len(c.name) + (len(c.arguments) if isinstance(c.arguments, str) else 0) for c in turn.tool_calls)
        if size > MAX_TURN_CHARS:
            raise self._too_large()
        return turn

    def _too_large(self) -> ModelError:
        return ModelError(f"The model at {self.settings.base_url} (model {self.settings.model}) sent more than "
                          f"{MAX_TURN_CHARS:,} characters in one turn; the turn was cut off", kind="output_too_large")

    async def _collect_stream(self, stream: Any) -> ModelTurn:
        # StringIO, not a list of pieces: a million one-character deltas would cost ~50 MB as str objects.
        content = io.StringIO()
        calls: dict[int, dict[str, Any]] = {}
        usage = finish = None
        seen_choice = False
        size = 0
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
                        size += content.write(delta.content)
                    for part in delta.tool_calls or []:
                        index = part.index or 0
                        call = calls.get(index)
                        if call is None:
                            call = calls[index] = {"id": None, "name": io.StringIO(), "arguments": io.StringIO()}
                            size += CALL_CHARS
                        call["id"] = part.id or call["id"]
                        if part.function is not None:
                            size += call["name"].write(part.function.name or "")
                            size += call["arguments"].write(part.function.arguments or "")
                if size > MAX_TURN_CHARS:
                    raise self._too_large()
        except (AttributeError, TypeError, KeyError, IndexError) as exc:
            log.debug("malformed stream chunk: %r", exc)
            raise self._bad_response("streamed a chunk that is not a chat completion chunk (wrong shape)") from None
        finally:
            await stream.close()  # also when cancelled mid-stream: the connection must not stay checked out
        if not seen_choice:
            raise self._bad_response("streamed no choices")
        if finish is None:  # a stream cut short: its text and tool arguments are truncated
            raise self._bad_response("ended its stream before the model finished", retryable=True)
        tool_calls = [ToolCall(id=c["id"] or "", name=c["name"].getvalue(), arguments=c["arguments"].getvalue())
                      for _, c in sorted(calls.items())]
        return self._validated(ModelTurn(content=content.getvalue() or None, tool_calls=tool_calls, usage=usage,
                                         finish_reason=finish))

    def _validated(self, turn: ModelTurn) -> ModelTurn:
        if turn.content is not None and not isinstance(turn.content, str):
            raise self._bad_response(f"sent content of type {type(turn.content).__name__}, not text")
        if any(not isinstance(call.name, str) for call in turn.tool_calls):
            raise self._bad_response("sent a tool call without a name")
        return turn
