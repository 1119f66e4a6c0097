"""`sidekick tools`: each tool's signature shows the real types of its arguments."""

from __future__ import annotations

import pytest

from sidekick.cli import build_parser
from sidekick.commands import tools


def test_run_task_shows_its_real_types(capsys: pytest.CaptureFixture[str]) -> None:
    assert tools.main(build_parser("tools").parse_args(["tools"])) == 0
    shown = capsys.readouterr().out.splitlines()
    assert "run_task(task: string, maxSteps?: integer, context?: object, timeoutMs?: integer, framework?: string)" \
        in shown
    assert not [line for line in shown if ": any" in line]


@pytest.mark.parametrize(("schema", "shown"), [
    ({"anyOf": [{"type": "integer"}, {"type": "null"}]}, "integer"),
    ({"type": ["string", "null"]}, "string"),
    ({"type": "array", "items": {"type": "string"}}, "string[]"),
    ({"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}, "(string | integer)[]"),
    ({"enum": ["a", "b"]}, '"a" | "b"'),
    ({"$ref": "#/$defs/Point"}, "Point"),
    ({}, "any"),
])
def test_type_names(schema: dict[str, object], shown: str) -> None:
    assert tools.type_name(schema) == shown
