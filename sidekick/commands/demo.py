"""`sidekick demo`: the whole path on an embedded default, offline.

A Python host spawns `sidekick --stdio` as its child (as the Eliza plugin does), offers one host tool,
and asks for a multi-step task. The model is the embedded scripted one on 127.0.0.1: it reads the page
it fetched, computes from what it read, saves a note through the host tool, and answers. Nothing
leaves this machine; with a real endpoint, use `sidekick run "task"` instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from typing import Any

from sidekick.commands import EXIT_OK, EXIT_RUN_FAILED

PAGE = b"""<!doctype html><html><head><title>Acme Q3 report</title><script>track()</script></head>
<body><nav>Home | Reports</nav><h1>Acme quarterly report</h1>
<p>Units sold in Q3: <b>1234567</b>.</p><p>Average price per unit: 0.175 credits.</p>
<footer>(c) Acme</footer></body></html>"""
TASK = "Fetch the Acme Q3 report at {url}, compute the Q3 revenue, save it as a note, and tell me the figure."
HOST_TOOL = {"name": "SAVE_NOTE", "description": "Save a short note in the agent's memory.",
             "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}


def demo_model(body: dict[str, Any]) -> dict[str, Any]:
    """The embedded model: its next step depends on what the previous tool returned."""
    from sidekick.testing.scripted_server import tool_results

    results = tool_results(body)
    task = next(m["content"] for m in body["messages"] if m["role"] == "user")
    if not results:
        url = re.search(r"https?://\S+", task).group(0).rstrip(",.")  # type: ignore[union-attr]
        return {"content": "I'll read the report first.",
                "tool_calls": [{"name": "fetch_url", "arguments": {"url": url}}]}
    if len(results) == 1:
        units = re.search(r"Units sold in Q3:\s*([\d,]+)", results[0])
        price = re.search(r"price per unit:\s*([\d.]+)", results[0])
        if not units or not price:
            return {"content": "The report did not say how many units were sold."}
        expression = f"{units.group(1).replace(',', '')} * {price.group(1)}"
        return {"tool_calls": [{"name": "calculate", "arguments": {"expression": expression}}]}
    if len(results) == 2:
        return {"tool_calls": [{"name": "SAVE_NOTE", "arguments": {"text": f"Acme Q3 revenue: {results[1]}"}}]}
    revenue = results[1]
    return {"content": f"Acme's Q3 revenue was {revenue} credits (1,234,567 units at 0.175). "
                       f"I saved it as a note: {results[2]}"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the full run result as JSON")


async def _demo(as_json: bool) -> int:
    from sidekick.client import SidekickClient
    from sidekick.testing.pages import PageServer
    from sidekick.testing.scripted_server import ScriptedOpenAIServer

    notes: list[str] = []

    async def host_tool(name: str, arguments: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
        notes.append(arguments.get("text", ""))
        return {"content": [{"type": "text", "text": f"note #{len(notes)} saved"}], "isError": False}

    def progress(step: float, message: str) -> None:
        print(f"  [{int(step)}] {message}", file=sys.stderr, flush=True)

    with PageServer({"/acme/q3": ("text/html; charset=utf-8", PAGE)}) as pages, \
            ScriptedOpenAIServer(demo_model, model="embedded-demo-model") as model:
        env = {"SIDEKICK_ALLOW_PRIVATE_URLS": "1", "SIDEKICK_BASE_URL": model.base_url,
               "SIDEKICK_MODEL": model.model, "SIDEKICK_API_KEY": "demo"}
        print("host: spawned `sidekick --stdio`; asking it a multi-step task (embedded model, offline)",
              file=sys.stderr)
        async with await SidekickClient.spawn(env=env, on_host_tool=host_tool) as client:
            result = await client.request("sidekick/run", {"task": TASK.format(url=pages.url("/acme/q3")),
                                                           "hostTools": [HOST_TOOL]}, on_progress=progress)
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print(f"host: {result['stopReason']} in {result['durationMs']:.0f} ms, tools used: "
              f"{', '.join(result['toolsUsed'])}; notes saved by the host: {notes}", file=sys.stderr)
        print(result["text"])
    return EXIT_OK if result["stopReason"] == "done" else EXIT_RUN_FAILED


def main(args: argparse.Namespace) -> int:
    return asyncio.run(_demo(args.json))
