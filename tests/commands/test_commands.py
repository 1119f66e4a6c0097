"""The terminal commands, run as a user runs them: `python -m sidekick …` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sidekick.testing.scripted_server import ScriptedOpenAIServer


def sidekick(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
             input: str = "") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SIDEKICK_", "OPENAI_"))}
    return subprocess.run([sys.executable, "-m", "sidekick", *args], capture_output=True, text=True, input=input,
                          timeout=timeout, env={**clean, "XDG_CONFIG_HOME": "/nonexistent", **(env or {})})


def model_env(server: ScriptedOpenAIServer) -> dict[str, str]:
    return {"SIDEKICK_BASE_URL": server.base_url, "SIDEKICK_MODEL": "scripted-model"}


def test_demo_runs_the_whole_path_offline() -> None:
    done = sidekick("demo")
    assert done.returncode == 0, done.stderr
    assert "216049.225" in done.stdout
    assert "fetch_url → ok" in done.stderr and "SAVE_NOTE → ok" in done.stderr


def test_run_prints_the_answer_and_plain_live_steps() -> None:
    script = [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "2**10"}}]},
              {"content": "2 to the 10th is 1024."}]
    with ScriptedOpenAIServer(script) as server:
        done = sidekick("run", "What is 2 to the 10th?", env=model_env(server))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2 to the 10th is 1024."
    assert "[step 1]" in done.stderr and "calculate → ok: 1024" in done.stderr
    assert "done after 2 model turn(s), 1 tool call(s)" in done.stderr


def test_run_json_and_exit_codes() -> None:
    script: list[Any] = [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "1"}}]}] * 2
    with ScriptedOpenAIServer(script) as server:
        stopped = sidekick("run", "loop forever", "--max-steps", "2", "--json", env=model_env(server))
    assert stopped.returncode == 3
    assert json.loads(stopped.stdout)["stopReason"] == "max_steps"
    unconfigured = sidekick("run", "anything")
    assert unconfigured.returncode == 4 and "No API key" in unconfigured.stderr
    bad_tool = sidekick("run", "x", "--tools", "calculate,nope", env={"SIDEKICK_API_KEY": "k"})
    assert bad_tool.returncode == 2 and "nope" in bad_tool.stderr  # a bad command line


def test_tools_lists_schemas() -> None:
    listed = sidekick("tools", "--json")
    names = [t["name"] for t in json.loads(listed.stdout)["tools"]]
    assert listed.returncode == 0 and {"calculate", "fetch_url", "web_search", "run_task"} <= set(names)
    assert "calculate(expression: string)" in sidekick("tools").stdout


def test_doctor_checks_the_endpoint_and_says_what_to_fix() -> None:
    with ScriptedOpenAIServer([{"tool_calls": [{"name": "calculate", "arguments": {"expression": "2+2"}}]}]) as server:
        healthy = sidekick("doctor", env=model_env(server))
    assert healthy.returncode == 0, healthy.stdout
    assert "✓ endpoint reachable" in healthy.stdout and "✓ tool calling answered" in healthy.stdout
    assert "called calculate in the tool_calls field (native)" in healthy.stdout
    fenced = '```json\n{"name": "calculate", "arguments": {"expression": "2+2"}}\n```'
    with ScriptedOpenAIServer([{"content": fenced}]) as server:
        as_text = sidekick("doctor", env=model_env(server))
    assert as_text.returncode == 0 and "called calculate written in its text, which the loop reads" in as_text.stdout
    with ScriptedOpenAIServer([{"content": '{"name": "calculator", "arguments": {}}'}]) as server:
        look_alike = sidekick("doctor", env=model_env(server))
    assert look_alike.returncode == 1 and "could not be used (malformed_call" in look_alike.stdout
    with ScriptedOpenAIServer([{"content": "I would rather not."}]) as server:
        no_tools = sidekick("doctor", env={**model_env(server), "SIDEKICK_MODEL": "other-model"})
    assert no_tools.returncode == 1
    assert "✗ model other-model listed" in no_tools.stdout and "✗ tool calling answered" in no_tools.stdout
    assert "fix:" in no_tools.stdout


def test_config_file_fills_in_and_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "sidekick" / "config.toml"
    config.parent.mkdir()
    config.write_text('model = "from-file"\napi_key = "sk-from-file-123456"\nbase_url = "http://127.0.0.1:9/v1"\n')
    env = {"XDG_CONFIG_HOME": str(tmp_path), "SIDEKICK_BASE_URL": "http://127.0.0.1:8/v1"}
    shown = sidekick("doctor", "--skip-model", env=env).stdout
    assert str(config) in shown
    lines = {line.split()[0]: line for line in shown.splitlines() if line.startswith("  SIDEKICK_")}
    assert "from-file" in lines["SIDEKICK_MODEL"] and "[config file]" in lines["SIDEKICK_MODEL"]
    assert "127.0.0.1:8" in lines["SIDEKICK_BASE_URL"] and "[environment]" in lines["SIDEKICK_BASE_URL"]
    assert "sk-from-file-123456" not in shown


def test_doctor_lists_the_frameworks_and_the_framework_setting() -> None:
    from tests.frameworks.plugin import require_plugin

    require_plugin()
    shown = sidekick("doctor", "--skip-model", env={"SIDEKICK_FRAMEWORK": "upfront"}).stdout
    assert "✓ frameworks load — available: native, upfront" in shown and "handmade" in shown
    assert any(line.split()[:2] == ["SIDEKICK_FRAMEWORK", "upfront"] for line in shown.splitlines())
