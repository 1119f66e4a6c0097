"""Settings from the environment and an optional TOML file in the user's config dir; the environment wins.

The file uses short lower-case keys (`base_url = "http://localhost:11434/v1"`) or the variable names
themselves (`SIDEKICK_BASE_URL = ...`). At start-up, file values fill in variables the environment
does not set, so every layer reads one place: `os.environ`.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("sidekick.config")

SETTINGS: dict[str, str] = {
    "SIDEKICK_BASE_URL": "OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 for Ollama",
    "SIDEKICK_MODEL": "model name (default gpt-4o-mini)",
    "SIDEKICK_API_KEY": "API key for the endpoint (falls back to OPENAI_API_KEY)",
    "SIDEKICK_STREAM": "1 to stream completions",
    "SIDEKICK_MAX_TOKENS": "most tokens one model turn may generate (default 1024)",
    "SIDEKICK_CONTEXT_TOKENS": "the model's context window in tokens, when the endpoint does not report it "
                               "(the smaller wins when both are known)",
    "SIDEKICK_ALLOW_PRIVATE_URLS": "1 lets fetch_url reach private, loopback and link-local addresses",
    "SIDEKICK_SEARXNG_URL": "a SearxNG instance for web_search",
    "SIDEKICK_DDG_URL": "override the DuckDuckGo HTML endpoint web_search falls back to",
    "SIDEKICK_LOG_LEVEL": "stderr log level: debug, info, warning (default), error",
    "SIDEKICK_FRAMEWORK": "the framework of runs that name none: native (default), upfront, langgraph, a plugin",
    "SIDEKICK_MODEL_PROVIDER": "the model provider of runs that name none (default openai: OpenAI-compatible)",
    "OPENAI_BASE_URL": "fallback endpoint",
    "OPENAI_API_KEY": "fallback API key",
}
SECRET_SETTINGS = {"SIDEKICK_API_KEY", "OPENAI_API_KEY"}
EXTRA_SETTINGS = {"OPENAI_MODEL", "SIDEKICK_CONFIG"}


def config_path() -> Path:
    """`$SIDEKICK_CONFIG`, else `$XDG_CONFIG_HOME/sidekick/config.toml` (~/.config/sidekick/config.toml)."""
    explicit = os.environ.get("SIDEKICK_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "sidekick" / "config.toml"


def _load_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    with path.open("rb") as handle:
        return tomllib.load(handle)


def _variable(key: str) -> str:
    upper = key.upper()
    return upper if upper.startswith(("SIDEKICK_", "OPENAI_")) else f"SIDEKICK_{upper}"


def read_file_settings(path: Path | None = None) -> dict[str, str]:
    """The file's settings as variable → string; a missing file is empty, a broken one is logged."""
    path = path or config_path()
    if not path.is_file():
        return {}
    try:
        data = _load_toml(path)
    except (OSError, ValueError) as exc:
        log.warning("ignoring the config file %s: %s", path, exc)
        return {}
    values = {}
    for key, value in data.items():
        if isinstance(value, bool):
            value = "1" if value else "0"
        if _variable(key) not in SETTINGS and _variable(key) not in EXTRA_SETTINGS:
            log.warning("ignoring unknown setting %r in %s; known: %s", key, path,
                        ", ".join(n.removeprefix("SIDEKICK_").lower() for n in SETTINGS if n.startswith("SIDEKICK_")))
        elif isinstance(value, (str, int, float)):
            values[_variable(key)] = str(value)
        else:
            log.warning("ignoring %s in %s: expected a string, number or boolean", key, path)
    return values


def apply_file_settings(path: Path | None = None) -> dict[str, str]:
    """Fill unset environment variables from the config file; returns what was applied."""
    applied = {}
    for variable, value in read_file_settings(path).items():
        if not os.environ.get(variable):
            os.environ[variable] = value
            applied[variable] = value
    return applied


@dataclass
class SettingSource:
    name: str
    value: str | None
    source: str  # "environment", "config file", or "unset"

    def shown(self) -> str:
        if self.value is None:
            return "(unset)"
        if self.name in SECRET_SETTINGS:
            return self.value[:3] + "…" + self.value[-2:] if len(self.value) > 8 else "***"
        return self.value


def describe_settings(applied_from_file: dict[str, str]) -> list[SettingSource]:
    """Where each known setting's current value came from (secrets shown masked)."""
    rows = []
    for name in SETTINGS:
        value = os.environ.get(name) or None
        source = "unset" if value is None else ("config file" if name in applied_from_file else "environment")
        rows.append(SettingSource(name, value, source))
    return rows
