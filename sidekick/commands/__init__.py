"""The terminal commands of `sidekick` (run, tools, doctor, demo). Exit codes scripts can rely on."""

from __future__ import annotations

import json
import sys

EXIT_OK = 0
EXIT_RUN_FAILED = 1  # the run ended with stopReason "error", or doctor found a problem
EXIT_USAGE = 2  # bad command line (argparse's own code)
EXIT_STOPPED = 3  # the run hit a limit: max_steps, timeout or token_budget
EXIT_CONFIG = 4  # no usable configuration: no API key, a malformed base URL or config file, a missing extra

# The JSON-RPC code a `--json` error object carries, as `sidekick/run` would answer the same mistake.
ERROR_CODES = {EXIT_USAGE: -32602, EXIT_CONFIG: -32011}


def fail(prog: str, message: str, exit_code: int, as_json: bool = False) -> int:
    """Report an error that stops a command before it runs: one line on stderr and, with `--json`, one
    object on stdout (`{"error": {code, message}, "exitCode"}`), so stdout always parses."""
    print(f"{prog}: {message}", file=sys.stderr)
    if as_json:
        error = {"code": ERROR_CODES.get(exit_code, -32603), "message": message}
        print(json.dumps({"error": error, "exitCode": exit_code}))
    return exit_code
