"""`sidekick doctor`: configuration problems are counted, and they exit as `run` and `eval` do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sidekick.cli import build_parser
from sidekick.commands import doctor, run
from sidekick.evals import cli as evals_cli


@pytest.fixture(autouse=True)
def no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in os.environ if n.startswith(("SIDEKICK_", "OPENAI_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))


def command(name: str, module: object, *argv: str) -> int:
    return module.main(build_parser(name).parse_args([name, *argv]))  # type: ignore[attr-defined]


def test_the_same_missing_key_gives_the_same_code_and_message_everywhere(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert command("run", run, "x") == 4
    said = capsys.readouterr().err.strip().removeprefix("sidekick run: ")
    assert said.startswith("No API key for the model endpoint")
    assert command("eval", evals_cli, "--out", str(tmp_path), "--no-chart") == 4
    assert capsys.readouterr().err.strip() == f"sidekick eval: {said}"
    assert command("doctor", doctor, "--skip-model") == 4
    assert f"✗ model endpoint configured — {said}" in capsys.readouterr().out


def test_a_malformed_base_url_is_a_configuration_problem(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "api.openai.com/v1")
    assert command("doctor", doctor) == 4
    out = capsys.readouterr().out
    assert "✗ model endpoint configured — OPENAI_BASE_URL has no scheme: 'api.openai.com/v1'" in out
    assert "endpoint reachable" not in out  # nothing was contacted


@pytest.mark.parametrize(("text", "said"), [
    ('model = "unterminated\n', "ignoring the config file"),
    ('modle = "qwen2.5"\n', "ignoring unknown setting 'modle'"),
    ("model = [1, 2]\n", "expected a string, number or boolean"),
])
def test_a_broken_config_file_is_a_problem(text: str, said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "sidekick.toml"
    config.write_text(text)
    monkeypatch.setenv("SIDEKICK_CONFIG", str(config))
    monkeypatch.setenv("SIDEKICK_BASE_URL", "http://127.0.0.1:9/v1")
    assert command("doctor", doctor, "--skip-model") == 4
    out = capsys.readouterr().out
    assert "✗ config file — " in out and said in out and "1 problem(s) found" in out


def test_a_missing_config_file_is_a_problem_only_when_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SIDEKICK_BASE_URL", "http://127.0.0.1:9/v1")
    assert command("doctor", doctor, "--skip-model") == 0
    assert "✓ config file" in capsys.readouterr().out
    monkeypatch.setenv("SIDEKICK_CONFIG", str(tmp_path / "typo.toml"))
    assert command("doctor", doctor, "--skip-model") == 4
    out = capsys.readouterr().out
    typo = tmp_path / "typo.toml"
    assert f"✗ config file — the config file {typo} named by SIDEKICK_CONFIG does not exist" in out
    assert f"fix: create {typo}, or unset SIDEKICK_CONFIG" in out
