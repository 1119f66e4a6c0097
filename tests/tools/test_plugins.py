"""Plugins through the `sidekick.tools` entry-point group, from a real dist-info directory on sys.path."""

from __future__ import annotations

import asyncio
import logging
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from sidekick.tools import build_registry
from sidekick.tools.plugins import load_plugins

PLUGIN_SOURCE = '''
from pydantic import BaseModel

from sidekick.tools.base import Tool, ToolArgs, ToolFailure


class EchoArgs(ToolArgs):
    text: str


class EchoTool(Tool):
    name = "echo"
    description = "Say it back."
    Args = EchoArgs

    def run(self, args):
        return {"echo": args.text}


class Shout(Tool):
    description = "Say it louder."
    Args = EchoArgs

    def __init__(self, name):
        self.name = name

    async def run(self, args):
        if not args.text:
            raise ToolFailure("nothing to shout")
        return args.text.upper()


def make_tools():
    return [Shout("shout"), Shout("yell")]


INSTANCE = Shout("holler")


class Clash(EchoTool):
    name = "calculate"


class BadName(EchoTool):
    name = "bad name!"


class DottedName(EchoTool):
    name = "weather.now"  # fine for MCP hosts, refused by chat-completions endpoints


class TrailingNewline(EchoTool):
    name = "echo2\\n"


class NoArgs(Tool):
    name = "no_args"
    description = "Has no argument model."
    Args = dict


NOT_A_TOOL = 42


def returns_junk():
    return ["junk"]


def explodes():
    raise RuntimeError("plugin factory blew up")


def exits():
    raise SystemExit(3)
'''

ENTRY_POINTS = """
[sidekick.tools]
echo = {module}:EchoTool
pair = {module}:make_tools
instance = {module}:INSTANCE
clash = {module}:Clash
bad_name = {module}:BadName
dotted_name = {module}:DottedName
trailing_newline = {module}:TrailingNewline
no_args = {module}:NoArgs
not_a_tool = {module}:NOT_A_TOOL
junk = {module}:returns_junk
explodes = {module}:explodes
exits = {module}:exits
missing_module = {module}_missing:Tool
missing_attribute = {module}:Nope

[console_scripts]
unrelated = {module}:EchoTool
"""


def install(root: Path, module: str, source: str, entry_points: str) -> None:
    """Lay out what pip would install: the module and its dist-info with entry_points.txt."""
    (root / f"{module}.py").write_text(source)
    dist_info = root / f"{module}-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(textwrap.dedent(entry_points).format(module=module))


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    module = f"sidekick_test_plugin_{tmp_path.name.replace('-', '_')}"
    install(tmp_path, module, PLUGIN_SOURCE, ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield module
    sys.modules.pop(module, None)


def test_plugin_tools_are_listed_and_called(plugin: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sidekick.tools"):
        registry = build_registry()
    assert registry.names() == ["calculate", "fetch_url", "web_search", "echo", "shout", "yell", "holler"]
    assert [spec["name"] for spec in registry.specs(["echo"])] == ["echo"]
    assert registry.specs(["echo"])[0]["inputSchema"]["required"] == ["text"]

    echoed = asyncio.run(registry.call("echo", {"text": "hi"}))
    assert echoed.to_mcp() == {"content": [{"type": "text", "text": '{"echo": "hi"}'}], "isError": False,
                               "structuredContent": {"echo": "hi"}}
    assert asyncio.run(registry.call("yell", {"text": "hi"})).text == "HI"
    assert asyncio.run(registry.call("holler", {"text": ""})).text == "holler failed: nothing to shout"
    assert asyncio.run(registry.call("calculate", {"expression": "1+1"})).text == "2"  # the built-in kept


def test_broken_plugins_are_logged_and_skipped(plugin: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sidekick.tools"):
        registry = build_registry()
    assert "calculate" in registry.names() and "unrelated" not in registry.names()
    messages = "\n".join(r.getMessage() for r in caplog.records if r.name == "sidekick.tools")
    for expected in (
        "a tool named 'calculate' is already registered",
        "invalid tool name 'bad name!'",
        "invalid tool name 'weather.now'",
        "invalid tool name 'echo2\\n'",
        "tool 'no_args' has no pydantic Args model",
        "TypeError: expected a Tool subclass, a Tool or a callable, got int",
        "str is not a sidekick Tool",
        "RuntimeError: plugin factory blew up",
        "SystemExit: 3",
        f"ModuleNotFoundError: No module named '{plugin}_missing'",
        "AttributeError",
    ):
        assert expected in messages, expected
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 11


def test_plugins_are_not_loaded_when_asked_not_to(plugin: str) -> None:
    assert build_registry(load_plugins=False).names() == ["calculate", "fetch_url", "web_search"]


def test_an_empty_group_adds_nothing() -> None:
    registry = build_registry(load_plugins=False)
    assert load_plugins(registry, group="sidekick.tools.test-no-such-group") == []

