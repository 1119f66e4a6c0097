"""`sidekick eval`: arguments and entry point. Importing this module stays light (no openai, no matplotlib)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator

DEFAULT_OUT = "sidekick-eval"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `sidekick eval`."""
    parser.add_argument("--suite", default="shop", metavar="NAME", help="benchmark suite (default: shop)")
    model = parser.add_argument_group("model endpoint (default: $SIDEKICK_* then $OPENAI_* settings)")
    model.add_argument("--model", help="model name, e.g. gpt-4o-mini or qwen2.5:7b")
    model.add_argument("--base-url", help="OpenAI-compatible base URL, e.g. http://localhost:11434/v1")
    model.add_argument("--api-key", help="API key (prefer $SIDEKICK_API_KEY or $OPENAI_API_KEY)")
    model.add_argument("--model-script", choices=["oracle", "faulty", "textual"],
                       help="use a built-in scripted model on loopback instead of an LLM (no network): "
                            "'oracle' makes the gold calls, 'faulty' over-orders in every place_order, "
                            "'textual' writes the oracle's calls as text the way a real small model does")
    parser.add_argument("--trials", type=int, default=1, metavar="K", help="trials per task; reports pass^1..K")
    parser.add_argument("--framework", default="native", metavar="NAME",
                        help="the framework measured (default native, the sidekick loop; also langgraph or an "
                             "installed plugin)")
    parser.add_argument("--baseline", metavar="NAME",
                        help="also run this framework to compare with, e.g. upfront: one model call picks every "
                             "action, the answer is written without seeing any result")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"report directory (default: ./{DEFAULT_OUT})")
    parser.add_argument("--tasks", action="append", metavar="IDS",
                        help="only these task ids (comma-separated; may repeat)")
    parser.add_argument("--concurrency", type=int, default=4, metavar="N", help="runs at once (default 4)")
    parser.add_argument("--max-steps", type=int, default=20, help="model turns per sidekick run (default 20)")
    parser.add_argument("--temperature", type=float, help="sampling temperature (default: the endpoint's)")
    parser.add_argument("--max-tokens", type=int, metavar="N",
                        help="most tokens one model turn may generate, in the loop and the baseline alike "
                             "(default $SIDEKICK_MAX_TOKENS, else 1024)")
    parser.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                        help="time limit per run (default 300)")
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG chart")
    parser.add_argument("--list", action="store_true", help="list the suites and the suite's tasks, then exit")


def _task_ids(values: list[str] | None) -> list[str] | None:
    ids = [part.strip() for value in values or [] for part in value.split(",") if part.strip()]
    return ids or None


@contextlib.contextmanager
def _endpoint(args: argparse.Namespace, suite: Any) -> Iterator[tuple[str, str, str]]:
    """(base_url, model, api_key): a scripted model on loopback, or the configured endpoint."""
    if args.model_script:
        from sidekick.evals.scripted import model_script
        from sidekick.testing.scripted_server import ScriptedOpenAIServer

        with ScriptedOpenAIServer(model_script(suite, args.model_script),
                                  model=f"scripted-{args.model_script}") as server:
            yield server.base_url, f"scripted-{args.model_script}", "not-needed"
        return
    from sidekick.agent.model_settings import resolve_settings
    from sidekick.run_protocol import ModelSettings
    from sidekick.config import base_url_problem
    from sidekick.errors import ConfigurationError

    problem = None if args.base_url else base_url_problem()
    if problem:
        raise ConfigurationError(problem)
    settings = resolve_settings(ModelSettings(base_url=args.base_url, model=args.model, api_key=args.api_key))
    yield settings.base_url, settings.model, settings.api_key


def _check_frameworks(*names: str | None) -> None:
    """Frameworks are run by the `sidekick --stdio` child of this Python: what it has, this process has."""
    from sidekick.frameworks import available_frameworks

    available = available_frameworks()
    for name in names:
        if name is not None and name not in available:
            raise ValueError(f"unknown framework {name!r}; available: {', '.join(available)}")
    if names[0] == names[1]:
        raise ValueError(f"--baseline is --framework itself ({names[0]}); compare two different frameworks")


def _list(suite: Any) -> int:
    from sidekick.evals.suite import available_suites

    print("suites: " + ", ".join(sorted(available_suites())))
    print(f"{suite.name}: {suite.description}")
    for task in suite.tasks():
        print(f"  {task.id:28} {task.category:9} {task.instruction[:80]}")
    return 0


def _print_summary(report: dict[str, Any], paths: dict[str, Path]) -> None:
    from sidekick.evals.report import label

    modes, summary = report["modes"], report["summary"]
    print(f"{report['suite']}: {len(report['tasks'])} tasks x {report['trials']} trial(s), model "
          f"{report['model']}")
    header = f"  {'category':10}" + "".join(f"{label(m):>18}" for m in modes)
    print(header)
    for category in summary[modes[0]]["byCategory"]:
        print(f"  {category:10}" + "".join(f"{summary[m]['byCategory'][category]['passRate'] * 100:>17.1f}%"
                                          for m in modes))
    print(f"  {'all':10}" + "".join(f"{summary[m]['passRate'] * 100:>17.1f}%" for m in modes))
    if report["trials"] > 1:
        k = str(report["trials"])
        print(f"  {'pass^' + k:10}" + "".join(f"{summary[m]['passHatK'][k] * 100:>17.1f}%" for m in modes))
    print("report: " + ", ".join(str(p) for p in paths.values()))


def main(args: argparse.Namespace) -> int:
    """Run `sidekick eval`; 0 when the report was written, 1 when the eval aborted, 2 for bad options, 4 when
    there is no usable configuration (the same code and message as `sidekick run` and `sidekick doctor`)."""
    from sidekick.commands import EXIT_CONFIG
    from sidekick.errors import ConfigurationError
    from sidekick.evals.progress import ProgressBar
    from sidekick.evals.report import write_report
    from sidekick.evals.runner import EvalAborted, EvalConfig, run_eval, select_tasks, summarise
    from sidekick.evals.suite import load_suite

    try:
        suite = load_suite(args.suite)
        if args.list:
            return _list(suite)
        if args.trials < 1 or args.concurrency < 1 or args.max_steps < 1:
            raise ValueError("--trials, --concurrency and --max-steps must be at least 1")
        if args.max_tokens is not None and args.max_tokens < 1:
            raise ValueError(f"--max-tokens must be at least 1, got {args.max_tokens}")
        tasks = select_tasks(suite, _task_ids(args.tasks))
        _check_frameworks(args.framework, args.baseline)
    except ValueError as exc:
        print(f"sidekick eval: {exc}", file=sys.stderr)
        return 2
    chart = not args.no_chart and importlib.util.find_spec("matplotlib") is not None
    if not args.no_chart and not chart:
        print("sidekick eval: matplotlib is not installed, so no chart "
              "(pip install 'eliza-sidekick[eval]')", file=sys.stderr)
    try:
        from sidekick.agent.model_settings import resolve_max_tokens

        max_tokens = resolve_max_tokens(args.max_tokens)  # resolved once: the loop and the baseline get the same
        with _endpoint(args, suite) as (base_url, model, api_key):
            config = EvalConfig(base_url=base_url, model=model, api_key=api_key, trials=args.trials,
                                framework=args.framework, baseline=args.baseline, task_ids=[t.id for t in tasks],
                                concurrency=args.concurrency, max_steps=args.max_steps,
                                temperature=args.temperature, timeout_s=args.timeout, max_tokens=max_tokens)
            from sidekick.evals.endpoint import describe_endpoint

            endpoint = describe_endpoint(base_url, api_key, model)
            bar = ProgressBar(len(tasks) * args.trials * len(config.modes), config.modes)
            try:
                result = asyncio.run(run_eval(suite, config, bar))
            finally:
                bar.close()
    except ConfigurationError as exc:
        print(f"sidekick eval: {exc.message}", file=sys.stderr)
        return EXIT_CONFIG
    except EvalAborted as exc:
        print(f"sidekick eval: aborted: {exc}", file=sys.stderr)
        return 1
    report = {"suite": suite.name, "description": suite.description, "model": model,
              "baseUrl": base_url if not args.model_script else f"scripted:{args.model_script}",
              "endpoint": endpoint,
              "settings": {"temperature": args.temperature, "maxTokens": max_tokens, "maxSteps": args.max_steps,
                           "timeoutS": args.timeout, "concurrency": args.concurrency, "trials": args.trials},
              "trials": args.trials, "maxTokens": max_tokens, "modes": config.modes,
              "durationS": result["durationS"],
              "finishedAt": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "summary": summarise(suite, result["tasks"], result["runs"], args.trials),
              "tasks": [{"id": t.id, "category": t.category, "instruction": t.instruction,
                         "outputs": list(t.outputs)} for t in result["tasks"]],
              "runs": result["runs"]}
    paths = write_report(report, Path(os.path.expanduser(args.out)), with_chart=chart)
    _print_summary(report, paths)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sidekick eval", description="Measure tool-calling success on a "
                                     "benchmark suite, scored like tau-bench (pass^k).")
    add_arguments(parser)
    return parser
