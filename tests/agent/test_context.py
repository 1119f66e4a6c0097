"""Context windows: discovered from what llama.cpp, vLLM, Ollama, LM Studio and OpenRouter report, learned
from overflow errors, configured; and the prompt budget they leave."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from sidekick.agent import context
from sidekick.agent.model_settings import resolve_settings
from sidekick.agent.openai_model import OpenAIChatModel
from sidekick.agent.tokens import message_tokens, tools_tokens
from sidekick.run_protocol import ModelSettings
from sidekick.errors import ContextOverflowError, ModelError
from sidekick.testing.scripted_server import ScriptedOpenAIServer
from tests.agent.endpoints import HANG, Endpoint, completion, fresh_adapter, llama_overflow  # noqa: F401

pytestmark = pytest.mark.usefixtures("fresh_adapter")

TOOLS = [{"name": "calculate", "description": "Evaluate arithmetic.",
          "inputSchema": {"type": "object", "properties": {"expression": {"type": "string"}}}}]
ASK = [{"role": "user", "content": "x"}]
KEY = "sk-discovery-7"


def model_at(endpoint: Any, model: str = "m", **settings: Any) -> OpenAIChatModel:
    return OpenAIChatModel(resolve_settings(ModelSettings(base_url=endpoint.base_url, model=model, api_key=KEY,
                                                          max_retries=0, **settings)))


def budget_for(window: int, max_tokens: int = 1024) -> int:
    margin = max(context.MIN_MARGIN_TOKENS, int(window * context.MARGIN_FRACTION))
    return window - max_tokens - margin - tools_tokens(TOOLS)


def llama_models(n_ctx: int) -> tuple[int, dict[str, Any]]:
    return 200, {"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "llamacpp",
                                             "meta": {"n_ctx": n_ctx, "n_ctx_train": 32768}}]}


async def test_llama_cpp_per_slot_window_from_props_asked_once_with_the_key() -> None:
    routes = {"GET /v1/models": llama_models(32768),
              "GET /props": (200, {"default_generation_settings": {"n_ctx": 8192}, "total_slots": 4})}
    with Endpoint(routes) as endpoint:
        model = model_at(endpoint)
        assert await model.prompt_budget(TOOLS) == budget_for(8192)
        assert await model.prompt_budget([]) == budget_for(8192) + tools_tokens(TOOLS)
    assert endpoint.paths() == ["/v1/models", "/props"]  # cached after the first answer
    assert all({k.lower(): v for k, v in s.headers.items()}.get("authorization") == f"Bearer {KEY}"
               for s in endpoint.seen)


async def test_llama_cpp_without_props_falls_back_to_the_model_list() -> None:
    with Endpoint({"GET /v1/models": llama_models(4096)}) as endpoint:
        assert await model_at(endpoint).prompt_budget(TOOLS) == budget_for(4096)
    assert endpoint.paths() == ["/v1/models", "/props"]


@pytest.mark.parametrize("entry, window", [
    ({"id": "m", "object": "model", "owned_by": "vllm", "max_model_len": 16384}, 16384),  # vLLM
    ({"id": "m", "context_length": 32768, "top_provider": {"context_length": 32768}}, 32768),  # OpenRouter
    ({"id": "m", "top_provider": {"context_length": 65536}}, 65536),
    ({"id": "m", "object": "model", "owned_by": "Meta", "context_window": 131072}, 131072),  # Groq
])
async def test_a_model_list_that_names_the_window_is_enough(entry: dict[str, Any], window: int) -> None:
    other = {"id": "other", "max_model_len": 999}
    with Endpoint({"GET /v1/models": (200, {"object": "list", "data": [other, entry]})}) as endpoint:
        assert await model_at(endpoint).prompt_budget(TOOLS) == budget_for(window)
    assert endpoint.paths() == ["/v1/models"]


OLLAMA_LIST = (200, {"object": "list", "data": [{"id": "qwen2.5:7b", "object": "model", "owned_by": "library"}]})


@pytest.mark.parametrize("ps, show, window", [
    ({"models": [{"name": "qwen2.5:7b", "model": "qwen2.5:7b", "context_length": 16384}]}, None, 16384),
    ({"models": []}, {"parameters": "num_ctx                        8192\nstop \"<|im_end|>\"",
                      "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768}}, 8192),
    ({"models": []}, {"parameters": "stop \"<|im_end|>\"",
                      "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768}},
     context.OLLAMA_DEFAULT_NUM_CTX),
    ({"models": []}, {"model_info": {"llama.context_length": 2048}}, 2048),
])
async def test_ollama_runtime_window_first_then_num_ctx_then_the_capped_trained_length(
        ps: dict[str, Any], show: dict[str, Any] | None, window: int) -> None:
    routes = {"GET /v1/models": OLLAMA_LIST, "GET /api/ps": (200, ps)}
    if show is not None:
        routes["POST /api/show"] = (200, show)
    with Endpoint(routes) as endpoint:
        assert await model_at(endpoint, "qwen2.5:7b").prompt_budget(TOOLS) == budget_for(window)
    if show is not None:
        assert endpoint.seen[-1].body == {"model": "qwen2.5:7b"}


async def test_lm_studio_loaded_instance_window() -> None:
    loaded = {"models": [{"key": "m", "type": "llm", "max_context_length": 131072,
                          "loaded_instances": [{"id": "m", "config": {"context_length": 4096}}]}]}
    with Endpoint({"GET /v1/models": (200, {"data": [{"id": "m"}]}), "GET /api/v1/models": (200, loaded)}) as ep:
        assert await model_at(ep).prompt_budget(TOOLS) == budget_for(4096)


async def test_no_window_anywhere_is_none_and_the_failure_is_cached() -> None:
    with ScriptedOpenAIServer([]) as server:
        model = model_at(server)
        assert await model.prompt_budget(TOOLS) is None
        assert await model.prompt_budget(TOOLS) is None
    assert server.calls == 0  # discovery never spends a completion


async def test_discovery_is_bounded_by_a_short_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "DISCOVERY_TIMEOUT_S", 0.3)
    with Endpoint({"GET /v1/models": HANG}) as endpoint:
        begun = time.monotonic()
        assert await model_at(endpoint).prompt_budget(TOOLS) is None
        assert time.monotonic() - begun < 20  # not the endpoint's hang


async def test_concurrent_runs_share_one_discovery() -> None:
    with Endpoint({"GET /v1/models": llama_models(8192), "GET /props": (200, {})}) as endpoint:
        budgets = await asyncio.gather(*(model_at(endpoint).prompt_budget(TOOLS) for _ in range(5)))
    assert budgets == [budget_for(8192)] * 5 and endpoint.paths() == ["/v1/models", "/props"]


async def test_the_configured_window_and_the_discovered_one_the_smaller_wins() -> None:
    routes = {"GET /v1/models": (200, {"data": [{"id": "m", "max_model_len": 8192}]})}
    with Endpoint(routes) as endpoint:
        assert await model_at(endpoint, context_tokens=4096).prompt_budget(TOOLS) == budget_for(4096)
        assert await model_at(endpoint, context_tokens=32768).prompt_budget(TOOLS) == budget_for(8192)
    with ScriptedOpenAIServer([]) as server:
        assert await model_at(server, context_tokens=4096, max_tokens=500).prompt_budget(TOOLS) == \
            budget_for(4096, 500)


async def test_a_llama_cpp_overflow_is_a_context_overflow_and_teaches_the_window() -> None:
    routes = {"POST /v1/chat/completions": llama_overflow(14478, 8192)}
    with Endpoint(routes) as endpoint:
        model = model_at(endpoint)
        assert await model.prompt_budget(TOOLS) is None  # nothing discovered
        with pytest.raises(ContextOverflowError) as caught:
            await model.complete(ASK, TOOLS, 10)
        budget = await model.prompt_budget(TOOLS)
    error = caught.value
    assert error.kind == "context_overflow" and (error.context_tokens, error.prompt_tokens) == (8192, 14478)
    assert error.code == -32010 and error.data["contextTokens"] == 8192
    assert "8192" in error.message and endpoint.base_url in error.message
    assert budget == budget_for(8192)
    assert endpoint.paths("POST").count("/v1/chat/completions") == 1  # an overflow is not retried


async def test_a_tokenizer_that_out_counts_the_estimate_shrinks_later_budgets() -> None:
    sent = [{"role": "user", "content": "word " * 2000}]
    estimate = message_tokens(sent[0])
    with Endpoint({"POST /v1/chat/completions": llama_overflow(int(estimate * 1.5), 2048)}) as endpoint:
        model = model_at(endpoint)
        with pytest.raises(ContextOverflowError):
            await model.complete(sent, [], 10)
        budget = await model.prompt_budget([])
    margin = max(context.MIN_MARGIN_TOKENS, int(2048 * context.MARGIN_FRACTION))
    assert budget == int((2048 - 1024 - margin) / 1.5)


@pytest.mark.parametrize("error", [
    {"message": "This model's maximum context length is 4096 tokens. However, your messages resulted in 5000 "
                "tokens. Please reduce the length of the messages.", "type": "invalid_request_error",
     "param": "messages", "code": "context_length_exceeded"},
    {"message": "This model's maximum context length is 4096 tokens. However, you requested 5024 tokens (4000 in "
                "the messages, 1024 in the completion). Please reduce the length of the messages or completion.",
     "type": "BadRequestError", "param": None, "code": 400},
])
async def test_openai_and_vllm_overflows_teach_the_window(error: dict[str, Any]) -> None:
    with Endpoint({"POST /v1/chat/completions": (400, {"object": "error", "error": error})}) as endpoint:
        model = model_at(endpoint)
        with pytest.raises(ContextOverflowError) as caught:
            await model.complete(ASK, [], 10)
        assert caught.value.context_tokens == 4096
        assert await model.prompt_budget(TOOLS) == budget_for(4096)


async def test_an_overflow_that_names_no_window_still_shrinks_the_next_budget() -> None:
    body = (400, {"error": {"message": "the request exceeds the available context size, try increasing it",
                            "type": "invalid_request_error"}})
    with Endpoint({"POST /v1/chat/completions": body}) as endpoint:
        model = model_at(endpoint)
        big = [{"role": "user", "content": "word " * 4000}]
        with pytest.raises(ContextOverflowError) as caught:
            await model.complete(big, [], 10)
        budget = await model.prompt_budget([])
    assert caught.value.context_tokens is None
    assert budget is not None and budget < 4000  # well under what was sent


async def test_other_bad_requests_stay_bad_requests() -> None:
    with ScriptedOpenAIServer([{"status": 400, "error": "parallel_tool_calls is not supported"}]) as server:
        with pytest.raises(ModelError) as caught:
            await model_at(server).complete(ASK, TOOLS, 10)
    assert caught.value.kind == "bad_request" and not isinstance(caught.value, ContextOverflowError)


@pytest.mark.parametrize("body, message, expected", [
    ({"type": "exceed_context_size_error", "n_ctx": 8192, "n_prompt_tokens": 9030}, "", (8192, 9030)),
    ({}, "request (14478 tokens) exceeds the available context size (8192 tokens), try increasing it",
     (8192, 14478)),
    ({"code": "context_length_exceeded", "message": "maximum context length is 128000 tokens. However, your "
                                                    "messages resulted in 130512 tokens."}, "", (128000, 130512)),
    ({"message": "This model's maximum context length is 128000 tokens. However, you requested 65535 output "
                 "tokens and your prompt contains at least 62466 input tokens"}, "", (128000, 62466)),
    ({"message": "'max_tokens' or 'max_completion_tokens' is too large: 1024. This model's maximum context "
                 "length is 4096 tokens and your request has 3500 input tokens (1024 > 4096 - 3500)."}, "",
     (4096, 3500)),
    ({"message": "The decoder prompt (length 5000) is longer than the maximum model length of 4096."}, "",
     (4096, 5000)),
    ("not an object", "This endpoint's maximum context length is 32768 tokens. However, you requested about "
                      "40000 tokens (35000 of text input, 5000 in the output).", (32768, 35000)),
    ({"message": "parallel_tool_calls is not supported"}, "", None),
    ({"message": "Invalid value for 'max_tokens': must be a positive integer"}, "", None),
])
def test_overflow_messages_of_each_server_are_read(body: Any, message: str, expected: Any) -> None:
    assert context.parse_overflow(body, message) == expected


def test_api_root_strips_only_a_trailing_v1() -> None:
    assert context.api_root("http://h:8080/v1/") == "http://h:8080"
    assert context.api_root("http://h/openai/v1") == "http://h/openai"
    assert context.api_root("http://h:11434") == "http://h:11434"


async def test_completions_are_unaffected_by_discovery() -> None:
    routes = {"GET /v1/models": llama_models(8192), "POST /v1/chat/completions": (200, completion("hi"))}
    with Endpoint(routes) as endpoint:
        model = model_at(endpoint)
        await model.prompt_budget(TOOLS)
        assert (await model.complete(ASK, TOOLS, 10)).content == "hi"
