"""A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

from __future__ import annotations

import sys
from typing import TextIO


class ProgressBar:
    """Call with (mode, passed) after each run; `close()` ends the line."""

    def __init__(self, total: int, modes: list[str], stream: TextIO | None = None, width: int = 28) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self.counts = {mode: [0, 0] for mode in modes}  # passed, finished
        self.tty = self.stream.isatty()
        self._last_tenth = -1

    def line(self) -> str:
        filled = int(self.width * self.done / max(1, self.total))
        modes = "  ".join(f"{m} {p}/{n} passed" for m, (p, n) in self.counts.items())
        return f"eval [{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total}  {modes}"

    def __call__(self, mode: str, passed: bool) -> None:
        self.done += 1
        self.counts[mode][0] += int(passed)
        self.counts[mode][1] += 1
        if self.tty:
            self.stream.write("\r" + self.line())
        else:
            tenth = 10 * self.done // max(1, self.total)
            if tenth == self._last_tenth:
                return
            self._last_tenth = tenth
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.done:
            self.stream.write("\n")
            self.stream.flush()
