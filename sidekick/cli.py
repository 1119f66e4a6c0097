"""The `sidekick` command: wires the layers together and nothing else."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
import threading

from sidekick import __version__
from sidekick.transport import DEFAULT_MAX_LINE_BYTES

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
COMMANDS = {
    "run": ("sidekick.commands.run", "run the agent loop once on a task and print the answer"),
    "tools": ("sidekick.commands.tools", "list the tools with their input schemas"),
    "doctor": ("sidekick.commands.doctor", "check Python, dependencies, plugins and the model endpoint"),
    "demo": ("sidekick.commands.demo", "the whole host ⇄ sidekick path on an embedded model, offline"),
    "eval": ("sidekick.evals.cli", "score tool-calling success on a task suite (pass^k), loop vs up-front baseline"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only `command`'s module is imported, so serving never loads the terminal commands."""
    parser = argparse.ArgumentParser(
        prog="sidekick",
        description="A Python tool-calling sidekick that speaks JSON-RPC 2.0 / MCP over stdin and stdout. "
                    "With no command it serves on stdio.",
    )
    parser.add_argument("--version", action="version", version=f"sidekick {__version__}")
    parser.add_argument("--stdio", action="store_true",
                        help="serve JSON-RPC on stdin/stdout (the default when no command is given)")
    parser.add_argument("--log-level", default=os.environ.get("SIDEKICK_LOG_LEVEL", "warning").lower(),
                        choices=["debug", "info", "warning", "error", "critical"],
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
    from sidekick.server import ServeOptions, claim_stdout, serve

    protocol_fd = claim_stdout()
    options = ServeOptions(max_line_bytes=args.max_line_bytes, shutdown_grace_s=args.shutdown_grace)
    asyncio.run(serve(0, protocol_fd, options))
    if any(not thread.daemon for thread in threading.enumerate() if thread is not threading.main_thread()):
        # A worker stuck in a blocking tool (a hung fetch) would hold up interpreter exit past the grace
        # period; everything owed to the peer has been written by now.
        logging.shutdown()
        os._exit(0)
    return 0


def main(argv: list[str] | None = None) -> int:
    from sidekick.config import apply_file_settings

    applied = apply_file_settings()
    argv = sys.argv[1:] if argv is None else argv
    command = next((arg for arg in argv if arg in COMMANDS), None)
    args = build_parser(command).parse_args(argv)
    configure_logging(args.log_level)
    if args.command is None:
        return serve_stdio(args)
    args.applied_from_file = applied
    return importlib.import_module(COMMANDS[args.command][0]).main(args)


if __name__ == "__main__":
    raise SystemExit(main())
