"""`sidekick run` as a new user meets it: bad command lines, where the task comes from, what goes where."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sidekick.cli import build_parser
from sidekick.commands import run
from sidekick.testing.scripted_server import ScriptedOpenAIServer
from tests.commands.test_commands import model_env, sidekick


@pytest.fixture(autouse=True)
def no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith(("SIDEKICK_", "OPENAI_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent")


def run_cli(*argv: str) -> int:
    """`sidekick run …` in this process: argparse errors become their exit code."""
    try:
        return run.main(build_parser("run").parse_args(["run", *argv]))
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize("argv", [[""], ["   "], ["--max-steps", "0", "x"], ["--tools", "calc", "x"],
                                  ["--max-steps", "500", "x"], ["--timeout-ms", "-1", "x"], []])
def test_bad_command_lines_exit_2_with_one_clean_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(*argv, "--api-key", "k") == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and err.startswith("sidekick run: ")
    assert "validation error" not in err and "pydantic" not in err and "usage:" not in err
    assert run_cli(*argv, "--api-key", "k", "--json") == 2
    out, err = capsys.readouterr()
    error = json.loads(out)
    assert error["exitCode"] == 2 and error["error"]["code"] == -32602 and error["error"]["message"] in err


def test_the_messages_say_what_is_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    run_cli("   ")
    run_cli("--max-steps", "0", "x")
    run_cli("--tools", "calc", "x")
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "sidekick run: the task is empty; say what to do"
    assert "--max-steps: must be a whole number from 1 to 200, got '0'" in err[1]
    assert err[2] == ("sidekick run: --tools: unknown tool(s) calc (did you mean calculate?); "
                      "available: calculate, fetch_url, web_search")


def test_the_task_from_stdin_or_a_file(tmp_path: Path) -> None:
    script = [{"content": "It says hello."}, {"content": "The file says hello."}]
    task_file = tmp_path / "task.txt"
    task_file.write_text("What does the file say?\n")
    with ScriptedOpenAIServer(script) as server:
        piped = sidekick("run", "-", env=model_env(server), input="What does stdin say?\n")
        filed = sidekick("run", "--file", str(task_file), env=model_env(server))
    assert piped.returncode == 0 and piped.stdout.strip() == "It says hello.", piped.stderr
    assert filed.returncode == 0 and filed.stdout.strip() == "The file says hello.", filed.stderr
    tasks = [next(m["content"] for m in body["messages"] if m["role"] == "user") for body in server.requests]
    assert tasks == ["What does stdin say?", "What does the file say?"]


def test_an_oversized_or_unreadable_task_is_refused_with_its_limit(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.txt"
    big.write_text("x" * (run.MAX_TASK_CHARS + 1))
    assert run_cli("--file", str(big)) == 2
    assert run_cli("x" * (run.MAX_TASK_CHARS + 1)) == 2
    assert run_cli("--file", str(tmp_path / "missing.txt")) == 2
    assert run_cli("--file", str(big), "and an argument") == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == err[1] == ("sidekick run: the task is longer than 60,000 characters, the limit "
                                "(the run's transcript budget)")
    assert err[2].endswith("missing.txt: No such file or directory") and "not more than one" in err[3]
    piped = sidekick("run", "-", input="y" * (run.MAX_TASK_CHARS + 10), env={"SIDEKICK_API_KEY": "k"})
    assert piped.returncode == 2 and "longer than 60,000 characters" in piped.stderr


@pytest.mark.parametrize(("url", "said"), [("not a url", "SIDEKICK_BASE_URL is not a URL: 'not a url'"),
                                           ("localhost:11434/v1", "SIDEKICK_BASE_URL has no scheme: "
                                            "'localhost:11434/v1' (did you mean http://localhost:11434/v1?)")])
def test_a_malformed_base_url_is_a_configuration_error(url: str, said: str, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SIDEKICK_BASE_URL", url)
    assert run_cli("x") == 4
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"sidekick run: {said}") and len(err.splitlines()) == 1
    assert run_cli("x", "--json") == 4
    assert json.loads(capsys.readouterr().out)["error"] == {"code": -32011, "message": err.strip().split(": ", 1)[1]}
    monkeypatch.delenv("SIDEKICK_BASE_URL")
    assert run_cli("x", "--base-url", url) == 2
    assert "argument --base-url: " in capsys.readouterr().err


def test_a_failed_run_writes_its_error_to_stderr_only() -> None:
    with ScriptedOpenAIServer([{"status": 401, "error": "invalid api key"}] * 2) as server:
        failed = sidekick("run", "x", env=model_env(server))
        as_json = sidekick("run", "x", "--json", env=model_env(server))
    assert failed.returncode == 1 and failed.stdout == ""
    assert "invalid api key" in failed.stderr or "auth" in failed.stderr.lower()
    assert as_json.returncode == 1
    result = json.loads(as_json.stdout)
    assert result["stopReason"] == "error" and result["error"]["kind"] == "auth"
