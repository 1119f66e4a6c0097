"""`sidekick run --max-tokens`: passed to every model turn; bad values are clear configuration errors."""

from __future__ import annotations

from sidekick.testing.scripted_server import ScriptedOpenAIServer
from tests.commands.test_commands import model_env, sidekick


def test_max_tokens_reaches_every_model_turn() -> None:
    script = [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}}]}, {"content": "42"}]
    with ScriptedOpenAIServer(script) as server:
        done = sidekick("run", "6 times 7?", "--max-tokens", "77", env=model_env(server))
    assert done.returncode == 0, done.stderr
    assert [body["max_tokens"] for body in server.requests] == [77, 77]


def test_bad_max_tokens_are_refused_before_any_model_call() -> None:
    with ScriptedOpenAIServer([]) as server:
        flag = sidekick("run", "x", "--max-tokens", "0", env=model_env(server))
        env = sidekick("run", "x", env={**model_env(server), "SIDEKICK_MAX_TOKENS": "lots"})
    assert flag.returncode == 2 and "--max-tokens: must be a whole number of at least 1" in flag.stderr
    assert env.returncode == 4 and "SIDEKICK_MAX_TOKENS must be a whole number" in env.stderr
    assert server.calls == 0


def test_framework_chooses_what_runs_the_task() -> None:
    script = [{"tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}}]}, {"content": "Done it."}]
    with ScriptedOpenAIServer(script) as server:
        done = sidekick("run", "6 times 7?", "--framework", "upfront", env=model_env(server))
        unknown = sidekick("run", "x", "--framework", "crewai", env=model_env(server))
    assert done.returncode == 0, done.stderr
    assert "model chose up front: calculate" in done.stderr and done.stdout.strip() == "Done it."
    assert "tools" not in server.requests[1]
    assert unknown.returncode == 2 and "unknown framework 'crewai'; available: native, upfront" in unknown.stderr
