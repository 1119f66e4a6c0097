"""Model providers: chosen by configuration; a new backend is one module plus a registration."""

from __future__ import annotations

from typing import Any

import pytest

from sidekick import providers
from sidekick.agent.openai_model import OpenAIChatModel
from sidekick.run_protocol import ModelSettings
from sidekick.errors import ConfigurationError, InvalidParams


class EchoModel:
    """A backend that is not OpenAI-compatible: it answers every transcript with its last message."""

    def __init__(self, settings: ModelSettings | None) -> None:
        self.settings = settings


class EchoProvider:
    name = "echo"

    def chat_model(self, settings: ModelSettings | None) -> Any:
        return EchoModel(settings)


def test_the_openai_compatible_provider_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIDEKICK_MODEL_PROVIDER", raising=False)
    model = providers.chat_model(ModelSettings(base_url="http://127.0.0.1:9/v1", model="m"))
    assert isinstance(model, OpenAIChatModel) and model.settings.model == "m"
    assert providers.available_providers()[0] == "openai"


def test_a_registered_provider_is_chosen_by_params_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(providers.BUILTIN_PROVIDERS, "echo", f"{__name__}:EchoProvider")
    monkeypatch.delitem(providers._loaded, "echo", raising=False)
    asked = providers.chat_model(ModelSettings(provider="echo", model="x"))
    assert isinstance(asked, EchoModel) and asked.settings.model == "x"
    monkeypatch.setenv("SIDEKICK_MODEL_PROVIDER", "echo")
    assert isinstance(providers.chat_model(None), EchoModel)
    assert "echo" in providers.available_providers()


def test_an_unknown_provider_is_bad_params_or_bad_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidParams, match=r"model.provider: unknown model provider 'nope'; available: openai"):
        providers.chat_model(ModelSettings(provider="nope"))
    monkeypatch.setenv("SIDEKICK_MODEL_PROVIDER", "nope")
    with pytest.raises(ConfigurationError, match="SIDEKICK_MODEL_PROVIDER names an unknown model provider 'nope'"):
        providers.chat_model(None)
