"""How many tokens an endpoint's context window holds: asked once, learned from overflow errors, configured.

Discovery asks what the server itself says, within a few seconds, once per (base URL, model) per process:
the OpenAI-compatible model list (vLLM `max_model_len`, OpenRouter `context_length`), llama.cpp `/props`
(the per-slot `n_ctx`), LM Studio's `/api/v1/models` (the loaded instance's `context_length`), Ollama's
`/api/ps` (the running model's `context_length`) and `/api/show` (`num_ctx`, else the model's trained length
capped at Ollama's smallest default, since Ollama silently truncates a prompt past its runtime window).
The same probe tells a llama.cpp server apart (its model list, or `/props`): the model adapter asks for a
forced call in the form llama.cpp honours.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any
from urllib.parse import urlsplit

from sidekick.agent.tokens import tools_tokens

DISCOVERY_TIMEOUT_S = 3.0
FAILURE_TTL_S = 300.0
OLLAMA_DEFAULT_NUM_CTX = 4096  # docs.ollama.com/context-length: 4k below 24 GiB of VRAM (older releases: 2048)
MIN_MARGIN_TOKENS = 64
MARGIN_FRACTION = 0.03
MAX_SCALE = 2.0
MIN_SCALE_SAMPLE = 256
UNSTATED_SHRINK = 0.75  # an overflow that names no window: assume this share of what was sent fits
NO_DISCOVERY_HOSTS = {"api.openai.com"}  # its model list names no window; nothing else there answers

log = logging.getLogger("sidekick.model")

Key = tuple[str, str]
_discovered: dict[Key, tuple[int | None, float]] = {}
_learned: dict[Key, int] = {}
_scale: dict[Key, float] = {}
_inflight: dict[tuple[int, str, str], asyncio.Future[int | None]] = {}
_llama_cpp: set[Key] = set()


def endpoint_key(base_url: str, model: str) -> Key:
    """The cache key of an endpoint's model."""
    return base_url.rstrip("/"), model


def api_root(base_url: str) -> str:
    """The server root of an OpenAI-compatible base URL: `http://h:8080/v1` → `http://h:8080`."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _from_model_list(data: Any, model: str) -> tuple[int | None, bool]:
    """(window, is llama.cpp) from a `/models` answer."""
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return None, False
    entries = [e for e in entries if isinstance(e, dict)]
    mine = [e for e in entries if e.get("id") == model] or (entries if len(entries) == 1 else [])
    for entry in mine:
        provider = entry.get("top_provider") if isinstance(entry.get("top_provider"), dict) else {}
        # vLLM; LM Studio; OpenRouter, Together; Groq; Mistral; OpenRouter's provider
        for value in (entry.get("max_model_len"), entry.get("loaded_context_length"), entry.get("context_length"),
                      entry.get("context_window"), entry.get("max_context_length"), provider.get("context_length")):
            if _positive(value):
                return value, False
        if entry.get("owned_by") == "llamacpp":
            meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
            return _positive(meta.get("n_ctx")), True  # a fallback: /props has the per-slot figure
    return None, False


def _from_props(data: Any) -> int | None:
    settings = data.get("default_generation_settings") if isinstance(data, dict) else None
    return _positive(settings.get("n_ctx")) if isinstance(settings, dict) else None


def _from_lm_studio(data: Any, model: str) -> int | None:
    models = data.get("models") if isinstance(data, dict) else None
    for entry in models if isinstance(models, list) else []:
        if isinstance(entry, dict) and entry.get("key") == model:
            for instance in entry.get("loaded_instances") or []:
                config = instance.get("config") if isinstance(instance, dict) else None
                if isinstance(config, dict) and _positive(config.get("context_length")):
                    return config["context_length"]
    return None


def _from_ollama_ps(data: Any, model: str) -> int | None:
    models = data.get("models") if isinstance(data, dict) else None
    for entry in models if isinstance(models, list) else []:
        if isinstance(entry, dict) and {entry.get("name"), entry.get("model")} & {model, f"{model}:latest"}:
            return _positive(entry.get("context_length"))
    return None


def _from_ollama_show(data: Any) -> int | None:
    if not isinstance(data, dict):
        return None
    found = re.search(r"^\s*num_ctx\s+(\d+)", str(data.get("parameters") or ""), re.MULTILINE)
    if found and int(found.group(1)) > 0:
        return int(found.group(1))
    info = data.get("model_info") if isinstance(data.get("model_info"), dict) else {}
    trained = [v for k, v in info.items() if k.endswith(".context_length") and _positive(v)]
    return min(trained[0], OLLAMA_DEFAULT_NUM_CTX) if trained else None


async def _probe(client: Any, base_url: str, model: str) -> int | None:
    deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
    root = api_root(base_url)

    async def ask(url: str, body: dict[str, Any] | None = None) -> Any:
        left = deadline - time.monotonic()
        options = {"timeout": left}
        call = client.get(url, cast_to=object, options=options) if body is None else \
            client.post(url, cast_to=object, body=body, options=options)
        return await asyncio.wait_for(call, left)

    try:
        listed, llama = _from_model_list(await ask(f"{base_url.rstrip('/')}/models"), model)
    except Exception as exc:  # not every server lists models; the others may still answer
        log.debug("context discovery: %s/models failed: %s", base_url, type(exc).__name__)
        listed, llama = None, False
    if llama:
        _llama_cpp.add(endpoint_key(base_url, model))
    if listed is not None and not llama:
        return listed
    props = f"{root}/props"
    steps = [(props, None, _from_props)]
    if not llama:
        steps += [(f"{root}/api/v1/models", None, lambda data: _from_lm_studio(data, model)),
                  (f"{root}/api/ps", None, lambda data: _from_ollama_ps(data, model)),
                  (f"{root}/api/show", {"model": model}, _from_ollama_show)]
    for url, body, read in steps:
        if time.monotonic() >= deadline:
            break
        try:
            window = read(await ask(url, body))
        except Exception as exc:  # a server that lacks the path: try the next
            log.debug("context discovery: %s failed: %s", url, type(exc).__name__)
            continue
        if window is not None:
            if url == props:
                _llama_cpp.add(endpoint_key(base_url, model))
            return window
    return listed


async def _discover_and_cache(client: Any, base_url: str, model: str) -> int | None:
    window = await _probe(client, base_url, model)
    _discovered[endpoint_key(base_url, model)] = (window, time.monotonic() + FAILURE_TTL_S)
    if window is not None:
        log.info("context window of %s at %s: %d tokens", model, base_url, window)
    return window


async def discover_window(client: Any, base_url: str, model: str) -> int | None:
    """The window the endpoint reports for `model`, or None. One probe per endpoint and model per process
    (a failed one is tried again after FAILURE_TTL_S); concurrent callers share it. `client` is the endpoint's
    AsyncOpenAI client: its key goes only to paths of that same server."""
    key = endpoint_key(base_url, model)
    cached = _discovered.get(key)
    if cached is not None and (cached[0] is not None or time.monotonic() < cached[1]):
        return cached[0]
    if urlsplit(base_url).hostname in NO_DISCOVERY_HOSTS:
        return None
    flight = (id(asyncio.get_running_loop()), *key)
    task = _inflight.get(flight)
    if task is None:
        task = _inflight[flight] = asyncio.ensure_future(_discover_and_cache(client, base_url, model))
        task.add_done_callback(lambda _: _inflight.pop(flight, None))
    # shielded: a caller that is cancelled does not cancel the probe others wait for (it is bounded anyway)
    return await asyncio.shield(task)


_WINDOW_PATTERNS = [re.compile(p, re.IGNORECASE) for p in (
    r"maximum context length (?:is|of) (\d+)",  # OpenAI, vLLM, OpenRouter
    r"available context size \((\d+) tokens\)",  # llama.cpp
    r"maximum model length of (\d+)",  # vLLM: "The decoder prompt (length N) is longer than ..."
    r"loaded with (?:a )?context length of (\d+)",  # LM Studio
    r"exceeds limit of (\d+)")]
_PROMPT_PATTERNS = [re.compile(p, re.IGNORECASE) for p in (
    r"\((\d+) in the messages", r"prompt contains at least (\d+) input tokens", r"request has (\d+) input tokens",
    r"request \((\d+) tokens\) exceeds", r"messages resulted in (\d+) tokens", r"\((\d+) of text input",
    r"prompt \((?:length )?(\d+)(?: tokens)?\)", r"keep the first (\d+) tokens")]
_OVERFLOW_WORDS = re.compile(r"context (?:length|size|window)|model length|prompt is too long|too many tokens",
                             re.IGNORECASE)


def _first(patterns: list[re.Pattern[str]], text: str) -> int | None:
    for pattern in patterns:
        found = pattern.search(text)
        if found:
            return int(found.group(1))
    return None


def parse_overflow(body: Any, message: str) -> tuple[int | None, int | None] | None:
    """(window, prompt tokens), each None when unstated, if an endpoint's 400 error says the request does not
    fit the context window; None when it says something else."""
    error = body if isinstance(body, dict) else {}
    text = " ".join(str(part) for part in (message, error.get("message") or "") if part)
    marked = error.get("code") == "context_length_exceeded" or error.get("type") == "exceed_context_size_error"
    window = _positive(error.get("n_ctx")) or _first(_WINDOW_PATTERNS, text)
    if not (marked or window or (_OVERFLOW_WORDS.search(text) and re.search(r"exceed|too (?:long|large)|maximum",
                                                                             text, re.IGNORECASE))):
        return None
    return window, _positive(error.get("n_prompt_tokens")) or _first(_PROMPT_PATTERNS, text)


def learn_overflow(base_url: str, model: str, context_tokens: int | None, prompt_tokens: int | None,
                   estimated_tokens: int, max_tokens: int | None) -> None:
    """Remember what an overflow error taught: the window, and how far the estimate fell short."""
    key = endpoint_key(base_url, model)
    if context_tokens is None:
        # The request overflowed, so the window is below what it asked for; keep under a share of that.
        context_tokens = int(UNSTATED_SHRINK * (estimated_tokens + (max_tokens or 0)))
    _learned[key] = min(context_tokens, _learned.get(key, context_tokens))
    # A tokenizer that out-counts the estimate shrinks later budgets by as much (bounded: beyond that the
    # learned window does the work, and a tiny request's ratio says little).
    if prompt_tokens and estimated_tokens >= MIN_SCALE_SAMPLE and prompt_tokens > estimated_tokens:
        _scale[key] = min(MAX_SCALE, max(_scale.get(key, 1.0), prompt_tokens / estimated_tokens))


def known_window(base_url: str, model: str, configured: int | None, discovered: int | None) -> int | None:
    """The smallest of the configured, discovered and learned windows, or None when none is known."""
    known = [w for w in (configured, discovered, _learned.get(endpoint_key(base_url, model))) if w]
    return min(known) if known else None


def prompt_budget(base_url: str, model: str, window: int, max_tokens: int | None,
                  tools: list[dict[str, Any]]) -> int:
    """Estimated tokens the messages may use: the window less the reply's reserve, a margin and the tool
    specs, shrunk by how far this endpoint's tokenizer has been seen to exceed the estimate."""
    margin = max(MIN_MARGIN_TOKENS, int(window * MARGIN_FRACTION))
    scale = _scale.get(endpoint_key(base_url, model), 1.0)
    return max(0, int((window - (max_tokens or 0) - margin) / scale) - tools_tokens(tools))


def is_llama_cpp(base_url: str, model: str) -> bool:
    """Whether discovery found a llama.cpp server at the endpoint (False before it ran)."""
    return endpoint_key(base_url, model) in _llama_cpp


def forget() -> None:
    """Drop every discovered and learned window and what was learned of the server (tests; a process whose
    endpoints were reconfigured)."""
    for cache in (_discovered, _learned, _scale, _llama_cpp):
        cache.clear()
