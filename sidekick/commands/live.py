"""A live view of a run's steps on stderr: one rewritten spinner line on a terminal, plain lines otherwise."""

from __future__ import annotations

import itertools
import sys
import time
from typing import TextIO

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class LiveView:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._frames = itertools.cycle(SPINNER)
        self._started = time.monotonic()
        self._open_line = False

    def step(self, count: int, message: str) -> None:
        elapsed = time.monotonic() - self._started
        if self.tty:
            width = 100
            line = f"{next(self._frames)} [{count:>2}] {elapsed:5.1f}s {message}"[:width]
            self.stream.write("\r\x1b[2K" + line)
            self._open_line = True
        else:
            self.stream.write(f"[step {count}] {elapsed:.1f}s {message}\n")
        self.stream.flush()

    def finish(self, summary: str) -> None:
        if self._open_line:
            self.stream.write("\r\x1b[2K")
        self.stream.write(summary + "\n")
        self.stream.flush()
