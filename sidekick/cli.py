"""The `sidekick` command: wires the layers together and nothing else."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
import threading
from typing import NoReturn

from sidekick import __version__
from sidekick.transport import DEFAULT_MAX_LINE_BYTES

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_LEVELS = ["debug", "info", "warning", "error", "critical"]
COMMANDS = {
    "run": ("sidekick.commands.run", "run the agent loop once on a task and print the answer"),
    "tools": ("sidekick.commands.tools", "list the tools with their input schemas"),
    "doctor": ("sidekick.commands.doctor", "check Python, dependencies, plugins and the model endpoint"),
    "demo": ("sidekick.commands.demo", "the whole host ⇄ sidekick path on an embedded model, offline"),
    "eval": ("sidekick.evals.cli", "score tool-calling success on a task suite (pass^k), loop vs up-front baseline"),
    "stats": ("sidekick.commands.stats", "runs, success rates, tools and failure modes from the usage store"),
}


STDIO_TTY_HINT = ("sidekick: serving JSON-RPC 2.0 / MCP on stdin and stdout, one message per line (Ctrl-D "
                  "ends); for a one-shot run in this terminal use `sidekick run \"task\"`, see `sidekick --help`")


class CommandLineParser(argparse.ArgumentParser):
    """argparse with a one-line error (`sidekick run: argument --max-steps: …`, exit 2) instead of the usage
    text; a command asked for `--json` also prints the error as one JSON object on stdout."""

    wants_json = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def, override]
        if args is not None and "--json" in self._option_string_actions:
            given = list(args)
            self.wants_json = "--json" in given[:given.index("--")] if "--" in given else "--json" in given
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        from sidekick.commands import EXIT_USAGE, fail

        # "unrecognized arguments" is raised by the top parser after the command's parser read its own.
        chosen = [sub for action in self._actions if isinstance(action, argparse._SubParsersAction)
                  for sub in action.choices.values() if getattr(sub, "wants_json", False)]
        raise SystemExit(fail(self.prog, f"{message} (see {self.prog} --help)", EXIT_USAGE,
                              self.wants_json or bool(chosen)))


def env_log_level() -> str:
    """$SIDEKICK_LOG_LEVEL when it names a level; a bad one falls back to warning (the plugin forwards it
    as set, and a typo must not stop the child from starting)."""
    level = os.environ.get("SIDEKICK_LOG_LEVEL", "").strip().lower()
    if level and level not in LOG_LEVELS:
        print(f"sidekick: ignoring SIDEKICK_LOG_LEVEL={level!r}; use one of {', '.join(LOG_LEVELS)}", file=sys.stderr)
    return level if level in LOG_LEVELS else "warning"


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only `command`'s module is imported, so serving never loads the terminal commands."""
    parser = CommandLineParser(
        prog="sidekick",
        description="A Python tool-calling sidekick that speaks JSON-RPC 2.0 / MCP over stdin and stdout. "
                    "With no command it serves on stdio.",
    )
    parser.add_argument("--version", action="version", version=f"sidekick {__version__}")
    parser.add_argument("--stdio", action="store_true",
                        help="serve JSON-RPC on stdin/stdout (the default when no command is given)")
    parser.add_argument("--log-level", default=env_log_level(), choices=LOG_LEVELS,
                        help="log level on stderr (default: warning, or $SIDEKICK_LOG_LEVEL)")
    parser.add_argument("--max-line-bytes", type=int, default=DEFAULT_MAX_LINE_BYTES,
                        help=f"largest accepted message in bytes (default {DEFAULT_MAX_LINE_BYTES})")
    parser.add_argument("--shutdown-grace", type=float, default=3.0, metavar="SECONDS",
                        help="on EOF or SIGTERM, how long work in flight may finish (default 3)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module).add_arguments(sub)
    return parser


def configure_logging(level: str) -> None:
    from sidekick.redact import RedactingFilter, remember_environment_secrets
    from sidekick.stderr_log import NonBlockingStderrHandler

    remember_environment_secrets()
    handler = NonBlockingStderrHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(level.upper())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level.upper())


def serve_stdio(args: argparse.Namespace) -> int:
    from sidekick.config import base_url_problem
    from sidekick.server import ServeOptions, claim_stdout, serve

    problem = base_url_problem()
    if problem:  # checked here too: the host learns it at start, not from its first failed run
        logging.getLogger("sidekick.config").warning("%s; runs will fail until it is fixed", problem)
    if os.isatty(0):  # a person typing: say what this is; it keeps serving
        print(STDIO_TTY_HINT, file=sys.stderr, flush=True)
    protocol_fd = claim_stdout()
    options = ServeOptions(max_line_bytes=args.max_line_bytes, shutdown_grace_s=args.shutdown_grace)
    asyncio.run(serve(0, protocol_fd, options))
    from sidekick.usage import finish

    finish()  # usage rows and spans still buffered: the os._exit below would skip their atexit hooks
    if any(not thread.daemon for thread in threading.enumerate() if thread is not threading.main_thread()):
        # A worker stuck in a blocking tool (a hung fetch) would hold up interpreter exit past the grace
        # period; everything owed to the peer has been written by now.
        logging.shutdown()
        os._exit(0)
    return 0


def main(argv: list[str] | None = None) -> int:
    from sidekick.config import apply_file_settings

    applied, problems = apply_file_settings()
    argv = sys.argv[1:] if argv is None else argv
    command = next((arg for arg in argv if arg in COMMANDS), None)
    args = build_parser(command).parse_args(argv)
    configure_logging(args.log_level)
    for problem in problems:
        logging.getLogger("sidekick.config").warning("%s", problem)
    if args.command is None:
        return serve_stdio(args)
    args.applied_from_file = applied
    try:
        return importlib.import_module(COMMANDS[args.command][0]).main(args)
    except BrokenPipeError:  # stdout closed early (`sidekick tools --json | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
