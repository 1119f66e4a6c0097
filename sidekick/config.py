"""Settings from the environment and an optional TOML file in the user's config dir; the environment wins.

The file uses short lower-case keys (`base_url = "http://localhost:11434/v1"`) or the variable names
themselves (`SIDEKICK_BASE_URL = ...`). At start-up, file values fill in variables the environment
does not set, so every layer reads one place: `os.environ`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def check_file_settings(path: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """The file's settings as variable → string, and what is wrong with the file (ignored when read).

    A missing default file is no problem; a file `$SIDEKICK_CONFIG` names but that does not exist is.
    """
    path = path or config_path()
    if not path.is_file():
        named = os.environ.get("SIDEKICK_CONFIG")
        return {}, [f"the config file {path} named by SIDEKICK_CONFIG does not exist"] if named else []
    try:
        data = _load_toml(path)
    except (OSError, ValueError) as exc:
        return {}, [f"ignoring the config file {path}: {exc}"]
    values, problems = {}, []
    for key, value in data.items():
        if isinstance(value, bool):
            value = "1" if value else "0"
        if _variable(key) not in SETTINGS and _variable(key) not in EXTRA_SETTINGS:
            known = ", ".join(n.removeprefix("SIDEKICK_").lower() for n in SETTINGS if n.startswith("SIDEKICK_"))
            problems.append(f"ignoring unknown setting {key!r} in {path}; known: {known}")
        elif isinstance(value, (str, int, float)):
            values[_variable(key)] = str(value)
        else:
            problems.append(f"ignoring {key} in {path}: expected a string, number or boolean")
    return values, problems


def url_problem(value: str) -> str | None:
    """Why `value` is not an http(s) base URL, or None when it is one."""
    from urllib.parse import urlsplit

    text = value.strip()
    example = "(expected e.g. http://localhost:11434/v1)"
    if not text or any(c.isspace() for c in text):
        return f"is not a URL: {value!r} {example}"
    if "://" not in text:
        host = text.split("/", 1)[0]
        if text.lower().startswith(("http:", "https:")) or not ("." in host or ":" in host or host == "localhost"):
            return f"is not a URL: {value!r} {example}"
        return f"has no scheme: {value!r} (did you mean http://{text}?)"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"is not a URL: {value!r} ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return f"must start with http:// or https://, got {value!r}"
    return None if parts.hostname else f"has no host: {value!r}"


def base_url_problem() -> str | None:
    """The first of SIDEKICK_BASE_URL and OPENAI_BASE_URL that is set but is no http(s) URL, as a sentence."""
    for name in ("SIDEKICK_BASE_URL", "OPENAI_BASE_URL"):
        value = os.environ.get(name)
        problem = url_problem(value) if value else None
        if problem:
            return f"{name} {problem}"
    return None


def apply_file_settings(path: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """Fill unset environment variables from the config file; returns what was applied and the file's
    problems (for the caller to log once logging is set up: the file may set the log level)."""
    values, problems = check_file_settings(path)
    applied = {}
    for variable, value in values.items():
        if not os.environ.get(variable):
            os.environ[variable] = value
            applied[variable] = value
    return applied, problems


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
