"""The `openai` adapter against the scripted server: requests as sent, replies parsed, errors mapped."""

from __future__ import annotations

from typing import Any

import pytest

from sidekick.agent.model_settings import resolve_settings
from sidekick.run_protocol import ModelSettings
from sidekick.agent.openai_model import OpenAIChatModel
from sidekick.errors import ConfigurationError, ModelError
from sidekick.testing.scripted_server import ScriptedOpenAIServer
from tests.agent.endpoints import fresh_adapter  # noqa: F401

pytestmark = pytest.mark.usefixtures("fresh_adapter")

TOOLS = [{"name": "calculate", "description": "math", "inputSchema": {"type": "object"}}]


def model_for(server: ScriptedOpenAIServer, **settings: Any) -> OpenAIChatModel:
    return OpenAIChatModel(resolve_settings(ModelSettings(base_url=server.base_url, model="m", api_key="sk-secret-42",
                                                          max_retries=0, **settings)))


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_calls_text_and_usage_are_parsed(stream: bool) -> None:
    reply = {"content": "thinking", "tool_calls": [{"name": "calculate", "arguments": {"expression": "1+1"}},
                                                   {"name": "calculate", "arguments": None}],
             "usage": {"prompt_tokens": 7, "completion_tokens": 3}}
    with ScriptedOpenAIServer([reply]) as server:
        turn = await model_for(server, stream=stream, temperature=0.2).complete(
            [{"role": "user", "content": "hi"}], TOOLS, timeout_s=10)
    body = server.requests[0]
    assert body["tools"][0]["function"]["name"] == "calculate" and body["temperature"] == 0.2
    assert "parallel_tool_calls" not in body and body.get("stream", False) is stream
    assert turn.content == "thinking" and [c.name for c in turn.tool_calls] == ["calculate", "calculate"]
    assert turn.tool_calls[0].arguments == '{"expression": "1+1"}' and not turn.tool_calls[1].arguments
    assert turn.usage.total_tokens == 10


async def test_parallel_tool_calls_sent_only_when_asked() -> None:
    with ScriptedOpenAIServer([{"content": "ok"}]) as server:
        await model_for(server, parallel_tool_calls=False).complete([{"role": "user", "content": "x"}], TOOLS, 10)
    assert server.requests[0]["parallel_tool_calls"] is False


@pytest.mark.parametrize("reply, kind", [
    ({"status": 401, "error": "bad key sk-secret-42"}, "auth"),
    ({"status": 403}, "auth"),
    ({"status": 400, "error": "parallel_tool_calls is not supported"}, "bad_request"),
    ({"status": 404, "error": "model m not found"}, "not_found"),
    ({"status": 429, "headers": {"Retry-After": "0"}}, "rate_limit"),
    ({"status": 503}, "server"),
    ({"raw": "this is not json"}, "bad_response"),
    ({"no_choices": True}, "bad_response"),
    ({"close": True}, "connection"),
    ({"hang": 30}, "timeout"),
])
async def test_endpoint_failures_become_clear_model_errors(reply: dict[str, Any], kind: str) -> None:
    with ScriptedOpenAIServer([reply]) as server:
        with pytest.raises(ModelError) as caught:
            await model_for(server, request_timeout_ms=3000).complete([{"role": "user", "content": "x"}], TOOLS, 10)
    assert caught.value.kind == kind
    assert "sk-secret-42" not in caught.value.message and server.base_url in caught.value.message


async def test_configuration_order_params_then_sidekick_then_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SIDEKICK_BASE_URL", "SIDEKICK_MODEL", "SIDEKICK_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_KEY",
                 "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="No API key"):
        resolve_settings(None)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://openai-env/v1")
    assert resolve_settings(None).base_url == "http://openai-env/v1"
    monkeypatch.setenv("SIDEKICK_BASE_URL", "http://sidekick-env/v1")
    monkeypatch.setenv("SIDEKICK_API_KEY", "sk-sidekick")
    resolved = resolve_settings(None)
    assert (resolved.base_url, resolved.api_key) == ("http://sidekick-env/v1", "sk-sidekick")
    given = resolve_settings(ModelSettings(base_url="http://params/v1", model="p", api_key="sk-params"))
    assert (given.base_url, given.model, given.api_key) == ("http://params/v1", "p", "sk-params")
    # The operator's key never goes to an endpoint a request names; only to the operator's own.
    assert resolve_settings(ModelSettings(base_url="http://elsewhere/v1")).api_key == "not-needed"
    assert resolve_settings(ModelSettings(base_url="http://sidekick-env/v1/")).api_key == "sk-sidekick"
    monkeypatch.delenv("SIDEKICK_API_KEY")
    monkeypatch.delenv("OPENAI_API_KEY")
    assert resolve_settings(ModelSettings(base_url="http://localhost:11434/v1")).api_key == "not-needed"


@pytest.mark.parametrize("base_url", ["localhost:11434/v1", "ftp://example.org/v1", "not a url"])
def test_a_base_url_that_is_not_http_is_a_configuration_error_before_any_request(base_url: str) -> None:
    with pytest.raises(ConfigurationError, match="base URL"):
        resolve_settings(ModelSettings(base_url=base_url, api_key="k"))


CALL = {"id": "c1", "type": "function", "function": {"name": "calculate", "arguments": "{}"}}


@pytest.mark.parametrize("completion, content, calls, finish", [
    ({"choices": [{"message": {"content": "hi"}}]}, "hi", [], None),  # absent fields are None, as in its models
    ('{"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]}', "hi", [], "stop"),  # not labelled JSON
    ({"choices": [{"message": {"tool_calls": [CALL, {"id": "c2", "type": "custom", "custom": {"name": "x"}}, None,
                                              {"function": {}}]}, "finish_reason": "tool_calls"}]},
     None, [("c1", "calculate", "{}"), ("", "", None)], "tool_calls"),
])
def test_a_completion_is_read_from_its_json_as_leniently_as_the_client_reads_it(
        completion: Any, content: str | None, calls: list[tuple[Any, ...]], finish: str | None) -> None:
    model = OpenAIChatModel(resolve_settings(ModelSettings(base_url="http://127.0.0.1:9/v1", model="m")))
    turn = model._turn(completion)
    assert turn.content == content and turn.finish_reason == finish
    assert [(c.id, c.name, c.arguments) for c in turn.tool_calls] == calls


@pytest.mark.parametrize("completion", ["not json", [1], {"choices": [None]}, {"choices": [{"message": "x"}]},
                                        {"choices": [{"message": {"tool_calls": [{"function": "f"}]}}]}])
def test_a_completion_of_the_wrong_shape_is_a_bad_response(completion: Any) -> None:
    model = OpenAIChatModel(resolve_settings(ModelSettings(base_url="http://127.0.0.1:9/v1", model="m")))
    with pytest.raises(ModelError, match="wrong shape") as caught:
        model._turn(completion)
    assert caught.value.kind == "bad_response"
