"""Helpers shared by the reliability tests: a hermetic subprocess, RSS readings, and waiting with deadlines."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import time
from typing import Any, Callable

from tests.support.process import SidekickProcess, rss_kb  # noqa: F401 (re-exported for the tests here)

# Hermetic: no config file, no private URLs, no model settings inherited from the developer's shell.
HERMETIC_ENV = {"SIDEKICK_ALLOW_PRIVATE_URLS": "", "SIDEKICK_CONFIG": os.devnull, "SIDEKICK_BASE_URL": "",
                "SIDEKICK_API_KEY": "", "OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "SIDEKICK_STREAM": ""}
INITIALIZE = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "reliability", "version": "0"}}


def strict_process(*args: str, private: bool = False, env: dict[str, str] | None = None) -> SidekickProcess:
    """A `sidekick --stdio` subprocess with SIDEKICK_ALLOW_PRIVATE_URLS unset unless `private`."""
    extra = {**HERMETIC_ENV, **({"SIDEKICK_ALLOW_PRIVATE_URLS": "1"} if private else {}), **(env or {})}
    return SidekickProcess(*args, env=extra)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, poll: float = 0.02) -> Any:
    """Poll `predicate` until it is truthy or `timeout` passes (then fail saying `what`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(poll)


def drain_messages(process: SidekickProcess, until: Callable[[Any], bool], timeout: float = 30.0) -> list[Any]:
    """Every message up to and including the first that matches `until`; each must be one JSON line."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        try:
            line = process.lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no matching message within {timeout} s; saw {seen[-5:]}") from None
        if line is None:
            raise EOFError(f"the sidekick closed its stdout; saw {seen[-5:]}")
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        message = json.loads(line)
        seen.append(message)
        if until(message):
            return seen


def ping_barrier(process: SidekickProcess, tag: str, timeout: float = 30.0) -> list[Any]:
    """Send a ping and return everything received up to its answer (exclusive)."""
    process.send({"jsonrpc": "2.0", "id": tag, "method": "ping"})
    seen = drain_messages(process, lambda m: isinstance(m, dict) and m.get("id") == tag, timeout)
    assert seen[-1] == {"jsonrpc": "2.0", "id": tag, "result": {}}
    return seen[:-1]


def spawn_raw(*args: str, env: dict[str, str] | None = None, **popen: Any) -> subprocess.Popen[bytes]:
    """A bare subprocess for tests that play with the pipes themselves."""
    full_env = {**os.environ, **HERMETIC_ENV, **(env or {})}
    options: dict[str, Any] = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    options.update(popen)
    return subprocess.Popen([sys.executable, "-m", "sidekick", "--stdio", *args], env=full_env, **options)
