"""The adapter's requests over real HTTP: max_tokens, retries, the whole-request timeout, finish reasons."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import Counter
from typing import Any

import pytest

from sidekick.agent import openai_model, response_cap
from sidekick.agent.model_settings import DEFAULT_MAX_TOKENS, resolve_max_tokens, resolve_settings
from sidekick.agent.openai_model import OpenAIChatModel, retry_after_s
from sidekick.run_protocol import ModelSettings
from sidekick.errors import ConfigurationError, ModelError
from sidekick.testing.scripted_server import ScriptedOpenAIServer
from tests.agent.endpoints import fresh_adapter  # noqa: F401
from tests.agent.endpoints import Endpoint, Stream, Trickle, chunks, completion, sequence

ASK = [{"role": "user", "content": "x"}]
CHAT = "POST /v1/chat/completions"


def model_at(base_url: str, **settings: Any) -> OpenAIChatModel:
    return OpenAIChatModel(resolve_settings(ModelSettings(base_url=base_url, model="m", api_key="sk-k", **settings)))


pytestmark = pytest.mark.usefixtures("fresh_adapter")


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_model, "BACKOFF_FIRST_S", 0.01)
    for name in ("SIDEKICK_MAX_TOKENS", "SIDEKICK_CONTEXT_TOKENS"):
        monkeypatch.delenv(name, raising=False)


async def test_every_turn_is_capped_by_default_and_the_cap_is_settable(monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedOpenAIServer([{"content": "a"}] * 3) as server:
        await model_at(server.base_url).complete(ASK, [], 10)
        await model_at(server.base_url, max_tokens=50).complete(ASK, [], 10)
        monkeypatch.setenv("SIDEKICK_MAX_TOKENS", "300")
        await model_at(server.base_url).complete(ASK, [], 10)
    assert [body["max_tokens"] for body in server.requests] == [DEFAULT_MAX_TOKENS, 50, 300]


def test_a_forced_tool_is_sent_as_a_named_tool_choice() -> None:
    tools = [{"name": "get_user", "inputSchema": {"type": "object"}}]
    assert model_at("http://127.0.0.1:9/v1")._request(ASK, tools, "get_user")["tool_choice"] == {
        "type": "function", "function": {"name": "get_user"}}
    assert "tool_choice" not in model_at("http://127.0.0.1:9/v1")._request(ASK, tools)


LLAMA_CPP = {"GET /v1/models": (200, {"object": "list", "data": [{"id": "m", "owned_by": "llamacpp"}]}),
             "GET /props": (200, {"default_generation_settings": {"n_ctx": 8192}})}
LOOKUP = {"name": "get_user", "inputSchema": {"type": "object", "properties": {"user_id": {"type": "string"}},
                                              "required": ["user_id"]}}


async def test_llama_cpp_is_forced_with_a_json_schema_of_the_call() -> None:
    # llama.cpp drops an object tool_choice; a response_format schema is what it enforces
    call = '{"name": "get_user", "arguments": {"user_id": "u_1"}}'
    with Endpoint({**LLAMA_CPP, CHAT: (200, completion(call))}) as endpoint:
        model = model_at(endpoint.base_url)
        await model.prompt_budget([LOOKUP])  # discovery, as every fitted turn does first
        turn = await model.complete(ASK, [LOOKUP], 10, tool_choice="get_user")
        await model.complete(ASK, [LOOKUP], 10)
    forced, free = [s.body for s in endpoint.seen if s.path == "/v1/chat/completions"]
    assert "tool_choice" not in forced and turn.content == call
    assert forced["response_format"] == {"type": "json_schema", "json_schema": {"name": "tool_call", "schema": {
        "type": "object", "properties": {"name": {"const": "get_user"}, "arguments": LOOKUP["inputSchema"]},
        "required": ["name", "arguments"]}}}
    assert "response_format" not in free and "tool_choice" not in free


async def test_a_forced_call_schema_the_server_rejects_is_sent_again_unforced() -> None:
    def chat(body: Any) -> Any:
        if "response_format" in body:
            return 400, {"error": {"message": "failed to parse grammar", "type": "invalid_request_error"}}
        return 200, completion("a plain answer")

    with Endpoint({**LLAMA_CPP, CHAT: chat}) as endpoint:
        model = model_at(endpoint.base_url)
        await model.prompt_budget([LOOKUP])
        turn = await model.complete(ASK, [LOOKUP], 10, tool_choice="get_user")
    sent = [s.body for s in endpoint.seen if s.path == "/v1/chat/completions"]
    assert turn.content == "a plain answer"
    assert ["response_format" in body for body in sent] == [True, False]


def test_openai_itself_gets_max_completion_tokens() -> None:
    request = model_at("https://api.openai.com/v1")._request(ASK, [])
    assert request["max_completion_tokens"] == DEFAULT_MAX_TOKENS and "max_tokens" not in request


@pytest.mark.parametrize("value", ["0", "-5", "many", "1.5"])
def test_a_bad_max_tokens_setting_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SIDEKICK_MAX_TOKENS", value)
    with pytest.raises(ConfigurationError, match="SIDEKICK_MAX_TOKENS must be a whole number"):
        resolve_max_tokens(None)
    monkeypatch.setenv("SIDEKICK_CONTEXT_TOKENS", value)
    monkeypatch.delenv("SIDEKICK_MAX_TOKENS")
    with pytest.raises(ConfigurationError, match="SIDEKICK_CONTEXT_TOKENS"):
        resolve_settings(ModelSettings(base_url="http://127.0.0.1:9/v1"))
    with pytest.raises(ConfigurationError, match="at least 1"):
        resolve_max_tokens(0)


def test_the_configured_context_window_comes_from_params_then_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    local = "http://127.0.0.1:9/v1"
    assert resolve_settings(ModelSettings(base_url=local)).context_tokens is None
    monkeypatch.setenv("SIDEKICK_CONTEXT_TOKENS", "8192")
    assert resolve_settings(ModelSettings(base_url=local)).context_tokens == 8192
    assert resolve_settings(ModelSettings(base_url=local, context_tokens=4096)).context_tokens == 4096


async def test_the_client_is_made_without_retries() -> None:
    settings = resolve_settings(ModelSettings(base_url="http://127.0.0.1:9/v1", api_key="k", max_retries=5))
    assert openai_model._client(settings).max_retries == 0


async def test_requests_past_a_lane_s_share_go_to_another_client_of_the_endpoint(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_model, "LANE_REQUESTS", 2)
    monkeypatch.setattr(openai_model, "MAX_LANES", 3)
    used: list[Any] = []
    send = OpenAIChatModel._send

    async def recorded(self: OpenAIChatModel, lane: Any, request: dict[str, Any], timeout: float) -> Any:
        used.append(lane.client)
        return await send(self, lane, request, timeout)

    monkeypatch.setattr(OpenAIChatModel, "_send", recorded)
    with ScriptedOpenAIServer(lambda body: {"content": "ok"}, latency_s=0.2) as server:
        model = model_at(server.base_url)
        turns = await asyncio.gather(*(model.complete(ASK, [], 10) for _ in range(7)))
        lanes = next(lanes for key, lanes in openai_model._clients.items() if key[1] == model.settings.base_url)
        # two each, then the least busy (the first) takes the one past them all
        assert [turn.content for turn in turns] == ["ok"] * 7 and len(lanes) == 3
        assert [Counter(map(id, used))[id(lane.client)] for lane in lanes] == [3, 2, 2]
        assert all(lane.busy == 0 for lane in lanes)
        await model.complete(ASK, [], 10)  # one at a time: the first lane serves it, on its open connections
        assert used[-1] is lanes[0].client


async def test_requests_carry_the_key_but_none_of_the_sdk_s_telemetry_headers() -> None:
    with Endpoint({CHAT: (200, completion("ok"))}) as endpoint:
        await model_at(endpoint.base_url).complete(ASK, [], 10)
    headers = {name.lower(): value for name, value in endpoint.seen[0].headers.items()}
    assert headers["authorization"] == "Bearer sk-k" and headers["content-type"] == "application/json"
    telemetry = {"x-stainless-lang", "x-stainless-package-version", "x-stainless-os", "x-stainless-arch",
                 "x-stainless-runtime", "x-stainless-runtime-version", "x-stainless-async"}
    assert not telemetry & set(headers)


def test_every_http_client_gets_the_one_ssl_context(monkeypatch: pytest.MonkeyPatch) -> None:
    import openai

    made: list[dict[str, Any]] = []

    class Recorded(openai.DefaultAsyncHttpxClient):  # type: ignore[misc, valid-type]
        def __init__(self, **kwargs: Any) -> None:
            made.append(kwargs)
            super().__init__(**kwargs)

    monkeypatch.setattr(openai, "DefaultAsyncHttpxClient", Recorded)
    response_cap.http_client(), response_cap.http_client()
    assert isinstance(made[0]["verify"], ssl.SSLContext) and made[1]["verify"] is made[0]["verify"]


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 503, "headers": {"Retry-After": "0"}},
                                   {"status": 429, "headers": {"retry-after-ms": "10"}}, {"close": True}])
async def test_connection_errors_429_and_5xx_are_retried(fault: dict[str, Any]) -> None:
    with ScriptedOpenAIServer([fault, fault, {"content": "fine"}]) as server:
        turn = await model_at(server.base_url, max_retries=2).complete(ASK, [], 10)
    assert turn.content == "fine" and server.calls == 3


async def test_retries_stop_at_max_retries() -> None:
    with ScriptedOpenAIServer([{"status": 502}] * 2) as server:
        with pytest.raises(ModelError) as caught:
            await model_at(server.base_url, max_retries=1).complete(ASK, [], 10)
    assert caught.value.kind == "server" and server.calls == 2


@pytest.mark.parametrize("fault", [{"status": 400}, {"status": 401}, {"status": 404}, {"raw": "not json"}])
async def test_errors_a_retry_cannot_fix_are_not_retried(fault: dict[str, Any]) -> None:
    with ScriptedOpenAIServer([fault, {"content": "unused"}]) as server:
        with pytest.raises(ModelError):
            await model_at(server.base_url, max_retries=3).complete(ASK, [], 10)
    assert server.calls == 1


async def test_a_timed_out_generation_is_not_retried() -> None:
    with ScriptedOpenAIServer([{"hang": 60}, {"content": "unused"}]) as server:
        begun = time.monotonic()
        with pytest.raises(ModelError) as caught:
            await model_at(server.base_url, max_retries=3, request_timeout_ms=2000).complete(ASK, [], 30)
    assert caught.value.kind == "timeout" and server.calls == 1
    assert time.monotonic() - begun < 30  # the hang was not waited out


async def test_retry_after_is_honoured() -> None:
    with Endpoint({CHAT: sequence((503, {"error": {"message": "busy"}, "_headers": {"Retry-After": "0.4"}}),
                                  (200, completion("after the wait")))}) as endpoint:
        begun = time.monotonic()
        turn = await model_at(endpoint.base_url, max_retries=1).complete(ASK, [], 10)
    assert turn.content == "after the wait" and time.monotonic() - begun >= 0.4
    assert len(endpoint.paths("POST")) == 2


async def test_a_wait_longer_than_the_cap_or_the_run_reports_the_error_at_once() -> None:
    too_long = {"status": 429, "headers": {"Retry-After": str(openai_model.RETRY_AFTER_MAX_S + 30)}}
    past_run = {"status": 503, "headers": {"Retry-After": "5"}}
    for fault, timeout_s in ((too_long, 60.0), (past_run, 2.0)):
        with ScriptedOpenAIServer([fault, {"content": "unused"}]) as server:
            begun = time.monotonic()
            with pytest.raises(ModelError):
                await model_at(server.base_url, max_retries=3).complete(ASK, [], timeout_s)
        assert server.calls == 1 and time.monotonic() - begun < 1.5


def test_retry_after_reads_milliseconds_seconds_and_dates() -> None:
    assert retry_after_s({"retry-after-ms": "250"}) == 0.25
    assert retry_after_s({"retry-after": "3"}) == 3.0
    assert 0 <= retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) < 1  # in the past: now
    assert retry_after_s({"retry-after": "soon"}) is None and retry_after_s({}) is None


@pytest.mark.parametrize("stream", [False, True])
async def test_the_request_timeout_bounds_the_whole_request_not_the_gap_between_reads(stream: bool) -> None:
    # An endpoint that keeps sending (every 0.1 s) but would take ~6 s to finish.
    route = Stream(chunks(["tok "] * 60), gap_s=0.1) if stream else Trickle(completion("x" * 400), gap_s=0.1)
    with Endpoint({CHAT: route}) as endpoint:
        begun = time.monotonic()
        with pytest.raises(ModelError) as caught:
            await model_at(endpoint.base_url, stream=stream, max_retries=2, request_timeout_ms=700).complete(
                ASK, [], None)
        elapsed = time.monotonic() - begun
    assert caught.value.kind == "timeout" and 0.6 < elapsed < 3
    assert len(endpoint.paths("POST")) == 1


async def test_the_run_s_remaining_time_bounds_the_request_too() -> None:
    with ScriptedOpenAIServer([{"hang": 10}]) as server:
        begun = time.monotonic()
        with pytest.raises(ModelError) as caught:
            await model_at(server.base_url, request_timeout_ms=60_000).complete(ASK, [], 0.4)
    assert caught.value.kind == "timeout" and time.monotonic() - begun < 2


@pytest.mark.parametrize("stream", [False, True])
async def test_finish_reason_length_is_reported_when_max_tokens_was_hit(stream: bool) -> None:
    reply = Stream(chunks(["The answer is", " long"], "length")) if stream else (200, completion("The a", "length"))
    with Endpoint({CHAT: reply}) as endpoint:
        turn = await model_at(endpoint.base_url, stream=stream, max_tokens=3).complete(ASK, [], 10)
    assert turn.finish_reason == "length" and turn.content
    assert endpoint.seen[-1].body["max_tokens"] == 3


@pytest.mark.parametrize("stream", [False, True])
async def test_finish_reason_is_carried_on_both_paths(stream: bool) -> None:
    call = [{"name": "calculate", "arguments": {"expression": "1"}}]
    with ScriptedOpenAIServer([{"content": "done"}, {"tool_calls": call}]) as server:
        model = model_at(server.base_url, stream=stream)
        assert (await model.complete(ASK, [], 10)).finish_reason == "stop"
        assert (await model.complete(ASK, [], 10)).finish_reason == "tool_calls"
