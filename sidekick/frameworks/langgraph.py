"""`langgraph` (the extra `eliza-sidekick[langgraph]`): LangChain's `create_agent`, a LangGraph ReAct graph,
with `ChatOpenAI` against the run's resolved endpoint and the run's toolbox (host tools included) as its tools.

LangChain is imported only when a run uses this framework. What stays ours: the system prompt, the tools and
their argument checks (LangChain passes a dict schema's arguments through unchecked; the toolbox validates
built-in tools with their pydantic models and forwards host tools as the native loop does), the limits
(model turns, time, tokens), the error mapping of `sidekick.agent.openai_model`, the hooks and the result.
What is LangChain's: the graph, the requests, and the reading of replies, so calls a model writes as text
(small local models) are not understood here; the native loop reads those.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sidekick.run_protocol import RunError, RunParams, RunResult, Step, StopReason, Usage
from sidekick.errors import ConfigurationError
from sidekick.frameworks.results import close_open_calls, run_error, stopped_text
from sidekick.hooks import ModelCallEnded, ModelCallStarted

if TYPE_CHECKING:
    from sidekick.agent.chat import ChatModel
    from sidekick.agent.model_settings import ResolvedModelSettings
    from sidekick.agent.toolbox import Toolbox
    from sidekick.hooks import HookSet

PREVIEW_CHARS = 200
MAX_RESULT_CHARS = 16_000
MAX_COMPLETION_TOKENS_HOSTS = {"api.openai.com"}  # as the openai adapter: only there `max_completion_tokens`


def _settings(model: ChatModel) -> ResolvedModelSettings:
    from sidekick.agent.model_settings import ResolvedModelSettings

    settings = getattr(model, "settings", None)
    if not isinstance(settings, ResolvedModelSettings):
        raise ConfigurationError("The langgraph framework needs an OpenAI-compatible model provider (openai)")
    return settings


def _chat_openai(settings: ResolvedModelSettings, http_client: Any) -> Any:
    from langchain_openai import ChatOpenAI

    options: dict[str, Any] = {}
    if settings.max_tokens is not None:
        if urlsplit(settings.base_url).hostname in MAX_COMPLETION_TOKENS_HOSTS:
            options["max_tokens"] = settings.max_tokens  # ChatOpenAI sends it as max_completion_tokens
        else:
            options["extra_body"] = {"max_tokens": settings.max_tokens}
    if settings.temperature is not None:
        options["temperature"] = settings.temperature
    return ChatOpenAI(model=settings.model, base_url=settings.base_url, api_key=settings.api_key,
                      timeout=settings.request_timeout_s, max_retries=settings.max_retries,
                      streaming=settings.stream, stream_usage=True, http_async_client=http_client, **options)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or () if isinstance(part, dict))


class _Progress:
    """What the run has produced so far; a run cut short answers from it."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.usage = Usage()
        self.turns = 0
        self.messages: list[Any] = []
        self.last_text = ""


def _model_call_hooks(hooks: HookSet, progress: _Progress, settings: ResolvedModelSettings) -> Any:
    from langchain_core.callbacks import AsyncCallbackHandler

    class ModelCallHooks(AsyncCallbackHandler):
        """LangChain's callbacks as the run's model-call hooks, and the run's usage."""

        def __init__(self) -> None:
            self.started: dict[Any, tuple[int, float]] = {}

        async def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: Any, **kw: Any) -> None:
            progress.turns += 1
            self.started[run_id] = (progress.turns, time.perf_counter())
            tools = (kw.get("invocation_params") or {}).get("tools") or ()
            hooks.on_model_call_start(ModelCallStarted(hooks.run_id, progress.turns, len(messages[0]), len(tools)))

        async def on_llm_end(self, response: Any, *, run_id: Any, **kw: Any) -> None:
            from sidekick.run_protocol import Usage

            turn, begun = self.started.pop(run_id, (progress.turns, time.perf_counter()))
            message = getattr(response.generations[0][0], "message", None)
            used = getattr(message, "usage_metadata", None) or {}
            usage = Usage(prompt_tokens=used.get("input_tokens", 0), completion_tokens=used.get("output_tokens", 0),
                          total_tokens=used.get("total_tokens", 0)) if used else None
            if usage is not None:
                progress.usage.add(usage)
            if text := _text(getattr(message, "content", "")):
                progress.last_text = text
            hooks.on_model_call_end(ModelCallEnded(
                hooks.run_id, turn, (time.perf_counter() - begun) * 1000, usage,
                tuple(call["name"] for call in getattr(message, "tool_calls", None) or ()),
                (getattr(message, "response_metadata", None) or {}).get("finish_reason")))

        async def on_llm_error(self, error: BaseException, *, run_id: Any, **kw: Any) -> None:
            turn, begun = self.started.pop(run_id, (progress.turns, time.perf_counter()))
            kind = getattr(_model_error(error, settings), "kind", None) or type(error).__name__
            hooks.on_model_call_end(ModelCallEnded(hooks.run_id, turn, (time.perf_counter() - begun) * 1000,
                                                   error=kind))

    return ModelCallHooks()


def _model_error(exc: BaseException, settings: ResolvedModelSettings) -> BaseException:
    """An `openai` error as the sidekick's ModelError (the adapter's mapping); anything else as it is."""
    import openai

    from sidekick.agent.openai_model import map_openai_error

    return map_openai_error(exc, settings) if isinstance(exc, openai.OpenAIError) else exc


def _tools(toolbox: Toolbox, progress: _Progress) -> list[Any]:
    from langchain_core.tools import BaseTool, ToolException

    class ToolboxTool(BaseTool):
        """One tool of the run's toolbox; `_arun(**arguments)` so no argument name can clash with LangChain's."""

        handle_tool_error: bool = True  # a tool's failure goes back to the model as its result, marked error

        def _run(self, **arguments: Any) -> str:
            raise NotImplementedError("the sidekick's tools run asynchronously")

        async def _arun(self, **arguments: Any) -> str:
            begun = time.perf_counter()
            output = await toolbox.call(self.name, arguments)
            text = output.text if len(output.text) <= MAX_RESULT_CHARS else output.text[:MAX_RESULT_CHARS] + "…"
            progress.steps.append(Step(tool=self.name, arguments=arguments, ok=not output.is_error,
                                       preview=text[:PREVIEW_CHARS], source=toolbox.source(self.name),
                                       duration_ms=round((time.perf_counter() - begun) * 1000, 3)))
            if output.is_error:
                raise ToolException(text)
            return text

    return [ToolboxTool(name=spec["name"], description=spec.get("description") or spec["name"],
                        args_schema=spec.get("inputSchema") or {"type": "object", "properties": {}})
            for spec in toolbox.specs()]


def _new_messages(messages: list[Any], history: int) -> list[dict[str, Any]]:
    from langchain_core.messages import convert_to_openai_messages

    converted = convert_to_openai_messages(messages[history:])
    for message in converted:
        message.pop("name", None)  # LangChain names tool results after their tool; chat-completions needs no name
    return converted


class LangGraphFramework:
    """LangChain's `create_agent` graph, limited, observed and answered the sidekick's way."""

    name = "langgraph"

    async def run(self, params: RunParams, toolbox: Toolbox, model: ChatModel, hooks: HookSet) -> RunResult:
        import openai
        from langchain.agents import create_agent

        from sidekick.agent.prompt import system_prompt

        started = time.perf_counter()
        settings = _settings(model)
        progress = _Progress()
        http_client = openai.DefaultAsyncHttpxClient()
        history = [m for m in (params.messages or []) if m.get("role") != "system"]
        error: RunError | None = None
        try:
            tools = _tools(toolbox, progress)
            agent = create_agent(_chat_openai(settings, http_client), tools,
                                 system_prompt=system_prompt(params, [t.name for t in tools]))
            work = self._stream(agent, params, history, progress, _model_call_hooks(hooks, progress, settings))
            stop = await (work if params.timeout_ms is None else asyncio.wait_for(work, params.timeout_ms / 1000))
        except asyncio.TimeoutError:
            stop = "timeout"
        except Exception as exc:
            stop, error = "error", run_error(_model_error(exc, settings))
        finally:
            await http_client.aclose()
        messages = _new_messages(progress.messages, len(history)) if progress.messages else \
            [{"role": "user", "content": params.task}]
        if stop != "done":
            close_open_calls(messages, f"not run: the run stopped ({stop})")
        text = progress.last_text if stop == "done" else stopped_text(stop, len(progress.steps), progress.last_text,
                                                                       error)
        return RunResult(text=text, stop_reason=stop, steps=progress.steps,
                         tools_used=list(dict.fromkeys(s.tool for s in progress.steps)), usage=progress.usage,
                         messages=messages, model_turns=progress.turns,
                         duration_ms=round((time.perf_counter() - started) * 1000, 3), error=error)

    @staticmethod
    async def _stream(agent: Any, params: RunParams, history: list[dict[str, Any]], progress: _Progress,
                      callbacks: Any) -> StopReason:
        """Run the graph a step at a time, stopping where the native loop would: after `maxSteps` model turns
        (their calls run), or when a turn's calls would exceed `tokenBudget` (they do not run)."""
        from langchain_core.messages import AIMessage, ToolMessage

        config = {"callbacks": [callbacks], "recursion_limit": 2 * params.max_steps + 2}
        state = {"messages": [*history, {"role": "user", "content": params.task}]}
        stream = agent.astream(state, config=config, stream_mode="values")
        try:
            async for value in stream:
                progress.messages = list(value["messages"])
                last = progress.messages[-1]
                if isinstance(last, AIMessage) and last.tool_calls:
                    if params.token_budget is not None and progress.usage.total_tokens >= params.token_budget:
                        return "token_budget"
                elif isinstance(last, ToolMessage) and progress.turns >= params.max_steps:
                    return "max_steps"
        finally:
            await stream.aclose()  # stopping early must not leave the graph's next step pending
        last = progress.messages[-1] if progress.messages else None
        progress.last_text = _text(getattr(last, "content", "")) if isinstance(last, AIMessage) else ""
        return "done"
