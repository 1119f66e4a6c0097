"""The `sidekick` command line itself: help for every option, one-line errors, serving on a terminal."""

from __future__ import annotations

import argparse
import json
import os
import pty
import queue
import subprocess
import sys
import threading

import pytest

from sidekick.cli import COMMANDS, STDIO_TTY_HINT, build_parser

DEADLINE_S = 30.0


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_option_has_help(command: str | None) -> None:
    parser = build_parser(command)
    chosen = parser if command is None else _subparsers(parser)[command]
    missing = [action.option_strings or action.dest for action in chosen._actions
               if not isinstance(action, argparse._SubParsersAction) and not (action.help or "").strip()]
    assert missing == []


def _lines(stream: object, sink: queue.Queue[bytes | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        sink.put(line)
    sink.put(None)


def test_stdio_on_a_terminal_prints_one_hint_and_keeps_serving() -> None:
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIDEKICK_", "OPENAI_"))}
    proc = subprocess.Popen([sys.executable, "-m", "sidekick", "--stdio"], stdin=slave, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**env, "XDG_CONFIG_HOME": "/nonexistent"})
    os.close(slave)
    out: queue.Queue[bytes | None] = queue.Queue()
    err: queue.Queue[bytes | None] = queue.Queue()
    for stream, sink in ((proc.stdout, out), (proc.stderr, err)):
        threading.Thread(target=_lines, args=(stream, sink), daemon=True).start()
    try:
        assert err.get(timeout=DEADLINE_S) == (STDIO_TTY_HINT + "\n").encode()
        os.write(master, b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
        assert json.loads(out.get(timeout=DEADLINE_S)) == {"jsonrpc": "2.0", "result": {}, "id": 1}
        os.write(master, b"\x04")  # Ctrl-D: end of input
        assert proc.wait(timeout=DEADLINE_S) == 0
        assert err.get(timeout=DEADLINE_S) is None  # nothing more on stderr: one line only
        assert out.get(timeout=DEADLINE_S) is None
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]


def test_stdio_from_a_pipe_prints_no_hint() -> None:
    done = subprocess.run([sys.executable, "-m", "sidekick", "--stdio"], input=b"", capture_output=True,
                          timeout=DEADLINE_S)
    assert done.returncode == 0 and STDIO_TTY_HINT.encode() not in done.stderr


def test_a_bad_log_level_setting_falls_back_instead_of_crashing() -> None:
    done = subprocess.run([sys.executable, "-m", "sidekick", "tools"], capture_output=True, text=True,
                          timeout=DEADLINE_S, env={**os.environ, "SIDEKICK_LOG_LEVEL": "verbose"})
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert "ignoring SIDEKICK_LOG_LEVEL='verbose'" in done.stderr and "calculate(" in done.stdout


def test_output_closed_early_ends_quietly() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "sidekick", "tools", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # type: ignore[union-attr]  # as `| head -0` would
    _, stderr = proc.communicate(timeout=DEADLINE_S)
    proc.stderr.close()  # type: ignore[union-attr]
    assert b"Traceback" not in stderr and b"BrokenPipeError" not in stderr
