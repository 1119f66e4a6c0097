"""Model providers: a run's model settings in, a chat model (`sidekick.agent.chat.ChatModel`) out.

A provider is any object with a `name` and `chat_model(settings)`, where `settings` is the run's
`ModelSettings` (or None): it fills in what is unset its own way (environment, defaults) and raises
`ConfigurationError` when it cannot make a model. A class with those two members is enough. Built in:
`openai`, any OpenAI-compatible endpoint. A new backend is one module plus a line in BUILTIN_PROVIDERS, or a
package's entry in the group `sidekick.model_providers`. Which provider serves a run: `model.provider` in its
params, else $SIDEKICK_MODEL_PROVIDER, else `openai`.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, Protocol

from sidekick.entrypoints import entry_point_names, instance, load_entry_point, load_reference
from sidekick.errors import ConfigurationError, InvalidParams

if TYPE_CHECKING:
    from sidekick.agent.chat import ChatModel
    from sidekick.run_protocol import ModelSettings

GROUP = "sidekick.model_providers"
DEFAULT_PROVIDER = "openai"
BUILTIN_PROVIDERS = {"openai": "sidekick.providers.openai_compatible:OpenAICompatibleProvider"}
log = logging.getLogger("sidekick.providers")
_loaded: dict[str, Any] = {}


class ModelProvider(Protocol):
    name: str

    def chat_model(self, settings: ModelSettings | None) -> ChatModel: ...


def available_providers() -> list[str]:
    """Built-in providers first, then those of installed packages."""
    return [*BUILTIN_PROVIDERS, *(n for n in entry_point_names(GROUP) if n not in BUILTIN_PROVIDERS)]


def get_provider(name: str) -> ModelProvider:
    """The provider called `name`, loaded on first use. LookupError when there is none of that name."""
    if name not in _loaded:
        if name in BUILTIN_PROVIDERS:
            _loaded[name] = instance(load_reference(BUILTIN_PROVIDERS[name]))
        else:
            try:
                _loaded[name] = instance(load_entry_point(GROUP, name))
            except LookupError:
                raise
            except Exception as exc:  # a plugin's import failed: say so, once per use
                log.warning("model provider %r failed to load: %s: %s", name, type(exc).__name__, exc)
                raise ConfigurationError(f"The model provider {name!r} failed to load: {type(exc).__name__}: "
                                         f"{exc}") from None
    return _loaded[name]


def chat_model(settings: ModelSettings | None) -> ChatModel:
    """The run's model, from the provider its settings (or the environment) choose."""
    asked = settings.provider if settings is not None else None
    name = asked or os.environ.get("SIDEKICK_MODEL_PROVIDER") or DEFAULT_PROVIDER
    try:
        provider = get_provider(name)
    except LookupError:
        available = ", ".join(available_providers())
        if asked:
            raise InvalidParams(f"Invalid params: model.provider: unknown model provider {name!r}; "
                                f"available: {available}") from None
        raise ConfigurationError(f"SIDEKICK_MODEL_PROVIDER names an unknown model provider {name!r}; "
                                 f"available: {available}") from None
    return provider.chat_model(settings)
