"""`sidekick run "task"`: one run (any framework) in this process, with a live view of its steps."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from sidekick.commands import EXIT_CONFIG, EXIT_OK, EXIT_RUN_FAILED, EXIT_STOPPED
from sidekick.commands.live import LiveView


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", help="what to do, in plain words")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON on stdout")
    parser.add_argument("--model", help="model name (default $SIDEKICK_MODEL)")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint (default $SIDEKICK_BASE_URL)")
    parser.add_argument("--api-key", help="API key (default $SIDEKICK_API_KEY, then $OPENAI_API_KEY)")
    parser.add_argument("--max-steps", type=int, default=10)
    parser.add_argument("--timeout-ms", type=int)
    parser.add_argument("--tools", help="comma-separated tool names to enable (default: all)")
    parser.add_argument("--framework", help="what runs the task: native (default, or $SIDEKICK_FRAMEWORK), "
                                            "upfront, langgraph, or an installed plugin")
    parser.add_argument("--stream", action="store_true", help="stream completions from the endpoint")
    parser.add_argument("--max-tokens", type=positive_int, metavar="N",
                        help="most tokens one model turn may generate (default $SIDEKICK_MAX_TOKENS, else 1024)")


def main(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from sidekick.agent.wire import ModelSettings, RunParams
    from sidekick.errors import ConfigurationError, InvalidParams
    from sidekick.runs import build_run
    from sidekick.tools import build_registry

    registry = build_registry()
    names = None if not args.tools else [n.strip() for n in args.tools.split(",") if n.strip()]
    view = LiveView()
    try:
        model = ModelSettings(model=args.model, base_url=args.base_url, api_key=args.api_key,
                              stream=args.stream or None, max_tokens=args.max_tokens)
        params = RunParams(task=args.task, max_steps=args.max_steps, timeout_ms=args.timeout_ms, tools=names,
                           model=model, framework=args.framework)
        run = build_run(params, registry, progress=view.step)
    except (ConfigurationError, InvalidParams) as exc:
        print(f"sidekick run: {exc.message.removeprefix('Invalid params: ')}", file=sys.stderr)
        return EXIT_CONFIG
    except ValidationError as exc:
        print(f"sidekick run: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    result = asyncio.run(run.execute())
    view.finish(f"{result.stop_reason} after {result.model_turns} model turn(s), {len(result.steps)} tool "
                f"call(s), {result.usage.total_tokens} tokens, {result.duration_ms / 1000:.1f}s")
    if args.json:
        print(json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True), indent=2))
    else:
        print(result.text)
    if result.stop_reason == "done":
        return EXIT_OK
    return EXIT_RUN_FAILED if result.stop_reason == "error" else EXIT_STOPPED
