"""`sidekick doctor`: check this installation and the model endpoint, and say what to fix."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sidekick.commands import EXIT_CONFIG, EXIT_OK, EXIT_RUN_FAILED

if TYPE_CHECKING:
    from sidekick.agent.model_settings import ResolvedModelSettings

DEPENDENCIES = ("pydantic", "jsonrpcserver", "openai", "numexpr", "beautifulsoup4", "requests")
IMPORT_NAMES = {"beautifulsoup4": "bs4"}
PROBE_TOOL = {"name": "calculate", "description": "Evaluate an arithmetic expression.",
              "inputSchema": {"type": "object", "properties": {"expression": {"type": "string"}},
                              "required": ["expression"]}}
PROBE_TASK = "Use the calculate tool to compute 2+2."


@dataclass
class Check:
    ok: bool
    title: str
    detail: str = ""
    fix: str = ""
    config: bool = False  # a configuration problem: doctor exits 4, as run and eval do for the same


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--skip-model", action="store_true",
                        help="do not contact the model endpoint (its settings are still checked)")
    parser.add_argument("--timeout", type=float, default=20.0, metavar="SECONDS",
                        help="seconds to wait for the endpoint (default 20)")


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check(sys.version_info >= (3, 10), f"Python {version}", sys.executable,
                 "install Python 3.10 or newer")


def check_dependencies() -> list[Check]:
    import importlib.metadata

    checks = []
    for name in DEPENDENCIES:
        try:
            __import__(IMPORT_NAMES.get(name, name))
            checks.append(Check(True, f"{name} {importlib.metadata.version(name)}"))
        except Exception as exc:
            checks.append(Check(False, f"{name} is missing or broken", str(exc),
                                f"pip install --force-reinstall eliza-sidekick  (or pip install {name})"))
    return checks


def check_plugins() -> Check:
    from sidekick.tools import build_registry

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("sidekick.tools")
    logger.addHandler(handler)
    try:
        builtin = set(build_registry(load_plugins=False).names())
        names = build_registry().names()
    finally:
        logger.removeHandler(handler)
    plugins = [n for n in names if n not in builtin]
    problems = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    detail = f"built-in: {', '.join(sorted(builtin))}; plugins: {', '.join(plugins) or 'none'}"
    if problems:
        return Check(False, f"{len(problems)} plugin problem(s)", detail + "; " + "; ".join(problems),
                     "fix or uninstall the plugin package named above")
    return Check(True, "tools load", detail)


def check_frameworks() -> Check:
    """The frameworks a run may name; each plugin framework is loaded to see that it imports."""
    from sidekick.errors import ConfigurationError
    from sidekick.frameworks import available_frameworks, get_framework, installed, plugin_names

    problems = []
    for name in plugin_names():
        try:
            get_framework(name)
        except ConfigurationError as exc:
            problems.append(exc.message)
    detail = "available: " + ", ".join(available_frameworks())
    if not installed("langgraph"):
        detail += " (langgraph: pip install 'eliza-sidekick[langgraph]')"
    if problems:
        return Check(False, f"{len(problems)} framework plugin problem(s)", detail + "; " + "; ".join(problems),
                     "fix or uninstall the plugin package named above")
    return Check(True, "frameworks load", detail)


async def check_tool_calling(settings: ResolvedModelSettings, timeout: float) -> Check:
    """One probe through the loop's own adapter and reply reader: does the model call a tool, and how."""
    from sidekick.agent.openai_model import OpenAIChatModel
    from sidekick.agent.reply import read_reply

    turn = await OpenAIChatModel(settings).complete([{"role": "user", "content": PROBE_TASK}], [PROBE_TOOL], timeout)
    reply = read_reply(turn, [PROBE_TOOL["name"]])
    fix = ("use a model with tool-calling support (e.g. qwen2.5, llama3.1, gpt-4o-mini); for vLLM start it with "
           "--enable-auto-tool-choice and a --tool-call-parser, for llama.cpp with --jinja")
    if reply.calls:
        how = ("in the tool_calls field (native)" if reply.path == "native" else
               "written in its text, which the loop reads (the endpoint has no tool-call parser for it)")
        call = reply.calls[0]
        return Check(True, "tool calling answered", f"the model called {call.name} {how}")
    if reply.problem is not None:
        return Check(False, "tool calling answered", f"the reply could not be used ({reply.problem}: "
                     f"{reply.detail}): {reply.text[:120]!r}", fix)
    return Check(False, "tool calling answered", f"the model replied without a tool call: {reply.text[:120]!r}", fix)


def check_config_file() -> Check:
    """The config file parses and names only known settings (a broken one is ignored by every command)."""
    from sidekick.config import check_file_settings, config_path

    path = config_path()
    values, problems = check_file_settings(path)
    if problems:
        fix = f"fix {path} (TOML: base_url = \"http://…\")" if path.is_file() else \
            f"create {path}, or unset SIDEKICK_CONFIG"
        return Check(False, "config file", "; ".join(problems), fix, config=True)
    return Check(True, "config file", f"{path}: {len(values)} setting(s)" if path.is_file() else f"{path}: none")


def check_model_settings() -> tuple[Check, ResolvedModelSettings | None]:
    """The model settings resolve (a key where one is needed, well-formed base URLs) without contacting anyone."""
    from sidekick.agent.model_settings import resolve_settings
    from sidekick.config import base_url_problem
    from sidekick.errors import ConfigurationError

    fix = ("export SIDEKICK_BASE_URL=http://localhost:11434/v1 SIDEKICK_MODEL=qwen2.5 (Ollama), "
           "or SIDEKICK_API_KEY=sk-… for OpenAI")
    problem = base_url_problem()
    if problem:
        return Check(False, "model endpoint configured", problem, fix, config=True), None
    try:
        settings = resolve_settings(None)
    except ConfigurationError as exc:
        return Check(False, "model endpoint configured", exc.message, fix, config=True), None
    return Check(True, "model endpoint configured", f"{settings.model} at {settings.base_url}"), settings


async def check_model(settings: ResolvedModelSettings, timeout: float) -> list[Check]:
    from openai import AsyncOpenAI

    from sidekick.agent.openai_model import map_openai_error
    from sidekick.errors import ModelError

    client = AsyncOpenAI(base_url=settings.base_url, api_key=settings.api_key, max_retries=0, timeout=timeout)
    checks = []
    try:
        models = [m.id async for m in client.models.list()]
        checks.append(Check(True, f"endpoint reachable: {settings.base_url}", f"{len(models)} model(s) listed"))
        listed = settings.model in models
        checks.append(Check(listed, f"model {settings.model} listed", "" if listed else
                            f"listed: {', '.join(models[:8])}", "set SIDEKICK_MODEL to one of the listed models"
                            " (for Ollama: ollama pull <model>)"))
        checks.append(await check_tool_calling(settings, timeout))
    except ModelError as exc:
        checks.append(Check(False, f"endpoint {settings.base_url}", exc.message,
                            "check that the server runs and the URL ends in /v1; check the API key"))
    except Exception as exc:
        error = map_openai_error(exc, settings)
        checks.append(Check(False, f"endpoint {settings.base_url}", error.message,
                            "check that the server runs and the URL ends in /v1; check the API key"))
    finally:
        await client.close()
    return checks


def main(args: argparse.Namespace) -> int:
    from sidekick.config import config_path, describe_settings

    checks = [check_python(), *check_dependencies(), check_plugins(), check_frameworks(), check_config_file()]
    print(f"config file: {config_path()}{'' if config_path().is_file() else ' (none)'}")
    for row in describe_settings(getattr(args, "applied_from_file", {})):
        print(f"  {row.name:<28} {row.shown():<40} [{row.source}]")
    configured, settings = check_model_settings()
    checks.append(configured)
    if settings is not None and not args.skip_model:
        checks += asyncio.run(check_model(settings, args.timeout))
    for check in checks:
        print(f"{'✓' if check.ok else '✗'} {check.title}" + (f" — {check.detail}" if check.detail else ""))
        if not check.ok and check.fix:
            print(f"    fix: {check.fix}")
    failed = sum(not c.ok for c in checks)
    print("all good" if not failed else f"{failed} problem(s) found")
    if any(not c.ok and c.config for c in checks):
        return EXIT_CONFIG
    return EXIT_OK if not failed else EXIT_RUN_FAILED
