"""Checks every built-in suite must pass, and the scripted-model eval through a real `sidekick --stdio`."""

from __future__ import annotations

from typing import Any

from sidekick.evals.runner import EvalConfig, run_eval
from sidekick.evals.scripted import model_script
from sidekick.evals.suite import Suite, Task, gold_hash, state_hash
from sidekick.testing.scripted_server import ScriptedOpenAIServer


async def evaluate(suite: Suite, script: str, **options: Any) -> tuple[dict[str, Any], ScriptedOpenAIServer]:
    """The suite through the real harness, driven by the named scripted model."""
    with ScriptedOpenAIServer(model_script(suite, script)) as server:
        config = EvalConfig(base_url=server.base_url, model=f"scripted-{script}", api_key="not-needed", **options)
        result = await run_eval(suite, config)
    assert not server.errors
    return result, server


# How each correction the textual model's unusable first replies earn begins (one per recorded shape).
CORRECTION_OPENINGS = ("Your last reply looks like a tool call but could not be used",
                       "Your last reply contains a tool result that you wrote yourself",
                       "Your last reply speaks of calling",
                       "Your last reply says what comes next")


def corrections_sent(server: ScriptedOpenAIServer) -> set[str]:
    """Which of CORRECTION_OPENINGS the loop sent to the model (anything else shows as itself)."""
    sent = {m["content"] for body in server.requests for m in body["messages"][2:]
            if m["role"] == "user" and m["content"].startswith("Your last")}
    return {next((o for o in CORRECTION_OPENINGS if text.startswith(o)), text) for text in sent}


def failed(result: dict[str, Any], mode: str) -> set[str]:
    return {r["task"] for r in result["runs"][mode] if r["reward"] != 1.0}


def replay(suite: Suite, task: Task) -> list[bool]:
    """Run the gold calls; returns is_error per domain call."""
    env = suite.new_environment(task)
    return [env.call(c.name, dict(c.arguments)).is_error for c in task.gold_calls if c.name not in task.builtins]


def assert_task_shapes_match_their_categories(suite: Suite) -> None:
    for task in suite.tasks():
        errors = replay(suite, task)
        if task.category == "no_tool":
            assert task.forbid_tools and not task.actions, task.id
        elif task.category == "single":
            assert len(task.gold_calls) == 1 and errors == [False], task.id
        elif task.category == "multi":
            assert len(task.actions) >= 2 and not any(errors), task.id
        elif task.category == "parallel":
            assert len(task.actions[0]) >= 2 and not any(errors), task.id
        elif task.category == "recovery":
            assert errors[0] and len(task.gold_calls) >= 1, task.id
        for name in {c.name for c in task.gold_calls} - {s["name"] for s in suite.tool_specs(task)}:
            assert name in task.builtins, (task.id, name)


def assert_gold_states_differ_exactly_where_a_write_succeeds(suite: Suite, writes: set[str]) -> None:
    tasks = suite.tasks()
    initial = state_hash(suite.new_environment(tasks[0]).state())
    for task in tasks:
        changes = any(not failed and c.name in writes for c, failed in zip(task.gold_calls, replay(suite, task)))
        assert (gold_hash(suite, task) != initial) == changes, task.id
