from __future__ import annotations

import io

from sidekick.commands.live import LiveView


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_one_line_is_rewritten_then_cleared_for_the_summary() -> None:
    screen = Terminal()
    view = LiveView(screen)
    view.step(1, "model asked for calculate")
    view.step(2, "calculate → ok: 4")
    view.finish("done")
    text = screen.getvalue()
    assert text.count("\r\x1b[2K") == 3 and "\n" not in text.rstrip("\n")
    assert "[ 2]" in text and text.endswith("\r\x1b[2Kdone\n")


def test_in_a_pipe_each_step_is_a_plain_line() -> None:
    pipe = io.StringIO()
    view = LiveView(pipe)
    view.step(1, "model answered")
    view.finish("done")
    lines = pipe.getvalue().splitlines()
    assert lines[0].startswith("[step 1] ") and lines[0].endswith("model answered") and lines[1] == "done"
    assert "\x1b" not in pipe.getvalue()
