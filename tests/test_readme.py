"""The README's promises, checked: the typed session answers as shown; the MCP snippet spawns and serves."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
ELIDED = "…"


def block_after(marker: str, language: str) -> str:
    start = README.index(marker)
    match = re.compile(rf"```{language}\n(.*?)```", re.DOTALL).search(README, start)
    assert match, f"no {language} block after {marker!r}"
    return match.group(1)


def matches(expected: Any, actual: Any) -> bool:
    if expected == ELIDED:
        return True
    if isinstance(expected, dict):
        return isinstance(actual, dict) and expected.keys() == actual.keys() and all(
            matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(map(matches, expected, actual))
    return expected == actual


def test_the_session_typed_by_hand_answers_as_shown() -> None:
    lines = block_after("## A session typed by hand", "text").splitlines()
    typed = "".join(line[2:] + "\n" for line in lines if line.startswith("> "))
    shown = [json.loads(line[2:]) for line in lines if line.startswith("< ")]
    done = subprocess.run([sys.executable, "-m", "sidekick", "--stdio"], input=typed, capture_output=True,
                          text=True, timeout=60)
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0 and len(answers) == len(shown)
    by_id = {json.dumps(a["id"]): a for a in answers}
    for expected in shown:
        assert matches(expected, by_id[json.dumps(expected["id"])]), expected


async def test_the_mcp_host_snippet_spawns_exactly_what_it_says() -> None:
    config = json.loads(block_after("<!-- mcp-config -->", "json"))["mcpServers"]["sidekick"]
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    command = shutil.which(config["command"], path=path)
    assert command, f"{config['command']} is not installed next to {sys.executable}"
    server = StdioServerParameters(command=command, args=config["args"], env=config["env"])
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            await session.send_ping()
            names = {tool.name for tool in (await session.list_tools()).tools}
    assert {"calculate", "fetch_url", "web_search", "run_task"} <= names
