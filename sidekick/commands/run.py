"""`sidekick run "task"`: one run (any framework) in this process, with a live view of its steps.

stdout is the answer alone (or, with `--json`, exactly one JSON object, errors included); everything else,
errors too, goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import sys
from typing import TextIO

from sidekick.run_protocol import DEFAULT_MAX_STEPS, DEFAULT_TRANSCRIPT_BUDGET_CHARS
from sidekick.commands import EXIT_CONFIG, EXIT_OK, EXIT_RUN_FAILED, EXIT_STOPPED, EXIT_USAGE, fail
from sidekick.commands.live import LiveView

PROG = "sidekick run"
MAX_STEPS = 200  # RunParams.max_steps' own bound
MAX_TASK_CHARS = DEFAULT_TRANSCRIPT_BUDGET_CHARS  # a longer task alone would overflow the run's transcript
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A bad command line found after argparse (exit 2)."""


def positive_int(text: str, maximum: int | None = None) -> int:
    """An argparse type: a whole number of at least 1 (and at most `maximum`)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1 or (maximum is not None and value > maximum):
        bound = "of at least 1" if maximum is None else f"from 1 to {maximum}"
        raise argparse.ArgumentTypeError(f"must be a whole number {bound}, got {text!r}")
    return value


def step_count(text: str) -> int:
    return positive_int(text, MAX_STEPS)


def base_url(text: str) -> str:
    """An argparse type: an http(s) URL."""
    from sidekick.config import url_problem

    problem = url_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", nargs="?",
                        help="what to do, in plain words; - reads it from stdin "
                             f"(at most {MAX_TASK_CHARS:,} characters)")
    parser.add_argument("--file", metavar="PATH", help="read the task from this UTF-8 text file")
    parser.add_argument("--json", action="store_true",
                        help="print the full result as one JSON object on stdout (an error too)")
    parser.add_argument("--model", help="model name (default $SIDEKICK_MODEL, else gpt-4o-mini)")
    parser.add_argument("--base-url", type=base_url,
                        help="OpenAI-compatible endpoint (default $SIDEKICK_BASE_URL, else $OPENAI_BASE_URL, "
                             "else https://api.openai.com/v1)")
    parser.add_argument("--api-key", help="API key (default $SIDEKICK_API_KEY, then $OPENAI_API_KEY)")
    parser.add_argument("--max-steps", type=step_count, default=DEFAULT_MAX_STEPS, metavar="N",
                        help=f"most model turns the run may take, 1 to {MAX_STEPS} (default {DEFAULT_MAX_STEPS})")
    parser.add_argument("--timeout-ms", type=positive_int, metavar="MS",
                        help="stop the run after this many milliseconds (default: no limit)")
    parser.add_argument("--tools", metavar="NAMES",
                        help="comma-separated tool names to enable (default: all; see `sidekick tools`)")
    parser.add_argument("--framework", help="what runs the task: native (default, or $SIDEKICK_FRAMEWORK), "
                                            "upfront, langgraph, or an installed plugin")
    parser.add_argument("--stream", action="store_true",
                        help="stream completions from the endpoint (default $SIDEKICK_STREAM, else off)")
    parser.add_argument("--max-tokens", type=positive_int, metavar="N",
                        help="most tokens one model turn may generate (default $SIDEKICK_MAX_TOKENS, else 1024)")


TOO_LONG = f"the task is longer than {MAX_TASK_CHARS:,} characters, the limit (the run's transcript budget)"


def _read_limited(stream: TextIO) -> str:
    """At most the limit's worth of text (a huge file or pipe is never read whole)."""
    try:
        text = stream.read(MAX_TASK_CHARS + 1)
        if len(text) > MAX_TASK_CHARS and (len(text.strip()) > MAX_TASK_CHARS or stream.read(1)):
            raise UsageError(TOO_LONG)
    except UnicodeDecodeError:
        raise UsageError("the task is not UTF-8 text") from None
    return text


def read_task(args: argparse.Namespace, stdin: TextIO | None = None) -> str:
    """The task from the argument, stdin (`-`) or `--file`; a UsageError when it is missing, empty or too long."""
    if args.file is not None and args.task is not None:
        raise UsageError("give the task as an argument, as - (stdin) or with --file, not more than one")
    if args.file is not None:
        try:
            with open(args.file, encoding="utf-8") as handle:
                text = _read_limited(handle)
        except OSError as exc:
            raise UsageError(f"--file: cannot read {args.file}: {exc.strerror or exc}") from None
    elif args.task == "-":
        stdin = stdin or sys.stdin
        if stdin.isatty():
            print(f"{PROG}: reading the task from stdin; end it with Ctrl-D", file=sys.stderr)
        text = _read_limited(stdin)
    elif args.task is None:
        raise UsageError("the following arguments are required: task (or - to read it from stdin, "
                         "or --file PATH)")
    else:
        text = args.task
    if len(text.strip()) > MAX_TASK_CHARS:
        raise UsageError(TOO_LONG)
    if not text.strip():
        raise UsageError("the task is empty; say what to do")
    return text.strip()


def tool_names(given: str | None, available: list[str]) -> list[str] | None:
    """`--tools` as a list (None: all); a UsageError naming the unknown ones, with the nearest name."""
    if not given:
        return None
    names = [n.strip() for n in given.split(",") if n.strip()]
    unknown = [n for n in names if n not in available]
    if unknown:
        near = [f"{n} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(n, available, 1, 0.5)) else n
                for n in unknown]
        raise UsageError(f"--tools: unknown tool(s) {', '.join(near)}; available: {', '.join(available)}")
    return names


def main(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from sidekick.run_protocol import ModelSettings, RunParams
    from sidekick.config import base_url_problem
    from sidekick.errors import ConfigurationError, InvalidParams, describe_validation_error
    from sidekick.runs import build_run
    from sidekick.tools import build_registry

    registry = build_registry()
    try:
        task = read_task(args)
        names = tool_names(args.tools, registry.names())
    except UsageError as exc:
        return fail(PROG, str(exc), EXIT_USAGE, args.json)
    problem = None if args.base_url else base_url_problem()
    if problem:
        return fail(PROG, problem, EXIT_CONFIG, args.json)
    view = LiveView()
    try:
        model = ModelSettings(model=args.model, base_url=args.base_url, api_key=args.api_key,
                              stream=args.stream or None, max_tokens=args.max_tokens)
        params = RunParams(task=task, max_steps=args.max_steps, timeout_ms=args.timeout_ms, tools=names,
                           model=model, framework=args.framework)
        run = build_run(params, registry, progress=view.step)
    except InvalidParams as exc:
        return fail(PROG, exc.message.removeprefix("Invalid params: "), EXIT_USAGE, args.json)
    except ConfigurationError as exc:
        return fail(PROG, exc.message, EXIT_CONFIG, args.json)
    except ValidationError as exc:
        return fail(PROG, describe_validation_error(exc), EXIT_USAGE, args.json)
    try:
        result = asyncio.run(run.execute())
    except KeyboardInterrupt:
        view.finish("interrupted")
        return fail(PROG, "interrupted", EXIT_INTERRUPTED, args.json)
    view.finish(f"{result.stop_reason} after {result.model_turns} model turn(s), {len(result.steps)} tool "
                f"call(s), {result.usage.total_tokens} tokens, {result.duration_ms / 1000:.1f}s")
    if args.json:
        print(json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True), indent=2))
    elif result.stop_reason == "error":
        print(result.text, file=sys.stderr)
    else:
        print(result.text)
    if result.stop_reason == "done":
        return EXIT_OK
    return EXIT_RUN_FAILED if result.stop_reason == "error" else EXIT_STOPPED
