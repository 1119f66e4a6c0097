"""The `openai` provider: any OpenAI-compatible `/chat/completions` endpoint (OpenAI, Ollama, vLLM, llama.cpp,
LM Studio, OpenRouter…), through the one `openai` adapter. Its model keeps the resolved settings as
`.settings`, which frameworks that bring their own client (langgraph) read to reach the same endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sidekick.agent.chat import ChatModel
    from sidekick.run_protocol import ModelSettings


class OpenAICompatibleProvider:
    name = "openai"

    def chat_model(self, settings: ModelSettings | None) -> ChatModel:
        """Settings resolved as `sidekick.agent.model_settings.resolve_settings` says (params → SIDEKICK_* → OPENAI_*)."""
        from sidekick.agent.model_settings import resolve_settings
        from sidekick.agent.openai_model import OpenAIChatModel

        return OpenAIChatModel(resolve_settings(settings))
