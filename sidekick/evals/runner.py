"""Runs a suite's tasks for k trials through one framework and optionally a baseline framework to compare.

Every run is a `sidekick/run` with its mode's `framework` (the default `native` loop is the mode "sidekick",
the `upfront` baseline the mode "upfront", any other framework a mode of its own name). Trials go one after
another; within a trial, the task runs of both modes go concurrently, bounded by `concurrency`. Each run
gets a fresh environment (its own database copy) and is scored against the task's gold hash. Endpoint
failures that would fail every task alike (bad key, unreachable, unknown model) abort the eval with their
message instead of reporting 0%.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from sidekick.client import SidekickExitedError
from sidekick.errors import RemoteError
from sidekick.evals.suite import ANSWER_PROBLEMS, Suite, Task, gold_hash, pass_hat_k, score

SIDEKICK, NATIVE = "sidekick", "native"
FATAL_KINDS = {"auth", "connection", "not_found"}
ANSWER_CHARS = 600

Progress = Callable[[str, bool], None]


class EvalAborted(Exception):
    """The eval cannot give meaningful numbers (the endpoint is unusable, or the sidekick failed)."""


@dataclass
class EvalConfig:
    base_url: str
    model: str
    api_key: str
    trials: int = 1
    baseline: str | None = None  # a framework to compare with
    framework: str = NATIVE
    task_ids: list[str] | None = None
    concurrency: int = 4
    max_steps: int = 20
    temperature: float | None = None
    timeout_s: float = 300.0
    max_tokens: int | None = None  # None: each side's default (SIDEKICK_MAX_TOKENS, else 1024)
    sidekick_command: list[str] | None = None
    modes: list[str] = field(init=False)

    def __post_init__(self) -> None:
        if self.baseline == self.framework:
            raise ValueError(f"the baseline is the framework itself ({self.framework}); compare two different ones")
        self.modes = [mode_of(self.framework)] + ([mode_of(self.baseline)] if self.baseline else [])


def mode_of(framework: str) -> str:
    """The report's name for a framework's runs: the native loop keeps its historical name, "sidekick"."""
    return SIDEKICK if framework == NATIVE else framework


def framework_of(mode: str) -> str:
    return NATIVE if mode == SIDEKICK else mode


def select_tasks(suite: Suite, task_ids: list[str] | None) -> list[Task]:
    tasks = suite.tasks()
    if not task_ids:
        return tasks
    known = {t.id: t for t in tasks}
    unknown = [i for i in task_ids if i not in known]
    if unknown:
        raise ValueError(f"unknown task id(s) {', '.join(unknown)}; the suite has: {', '.join(known)}")
    return [known[i] for i in task_ids]


def _assistant_text(messages: list[dict[str, Any]]) -> str:
    """What the agent said in the run, without replies the loop sent back as unusable (a user turn follows
    those: the correction)."""
    said = []
    for index, message in enumerate(messages):
        following = messages[index + 1] if index + 1 < len(messages) else {}
        if message.get("role") == "assistant" and isinstance(message.get("content"), str) \
                and following.get("role") != "user":
            said.append(message["content"])
    return "\n".join(said)


def answer_problem(final_text: str, error_kind: str | None, tool_names: list[str]) -> str | None:
    """A run whose final answer is call-like text or an invented tool result did not answer."""
    from sidekick.agent.textcalls import parse_text_tool_calls

    if error_kind in ANSWER_PROBLEMS:
        return error_kind
    reading = parse_text_tool_calls(final_text, tool_names)
    return "malformed_call" if reading.calls else reading.problem


async def _trial(pool: Any, suite: Suite, task: Task, config: EvalConfig, mode: str) -> dict[str, Any]:
    environment = suite.new_environment(task)
    # One slow model turn may take the whole run's time (a cold prompt on a CPU server): no shorter bound.
    model: dict[str, Any] = {"baseUrl": config.base_url, "model": config.model, "apiKey": config.api_key,
                             "requestTimeoutMs": int(config.timeout_s * 1000)}
    if config.temperature is not None:
        model["temperature"] = config.temperature
    if config.max_tokens is not None:
        model["maxTokens"] = config.max_tokens
    params = {"task": task.instruction, "system": suite.system_prompt, "tools": list(task.builtins),
              "hostTools": suite.tool_specs(task), "model": model, "maxSteps": config.max_steps,
              "timeoutMs": int(config.timeout_s * 1000), "framework": framework_of(mode)}
    try:
        result = await pool.run(params, environment)
    except (RemoteError, SidekickExitedError) as exc:
        raise EvalAborted(f"sidekick/run failed: {exc}") from None
    error = result.get("error") or None
    if error and error.get("kind") in FATAL_KINDS:
        raise EvalAborted(error.get("message", "the model endpoint failed"))
    answer = _assistant_text(result.get("messages") or []) or result.get("text", "")
    problem = answer_problem(result.get("text", ""), error and error.get("kind"),
                             [s["name"] for s in params["hostTools"]] + params["tools"])
    return {"environment": environment, "answer": answer, "answerProblem": problem,
            "toolCalls": len(result.get("steps") or []),
            "stopReason": result.get("stopReason"), "error": error and error.get("message"),
            "usage": result.get("usage") or {}, "modelTurns": result.get("modelTurns"),
            "transcript": result.get("messages") or []}


async def run_eval(suite: Suite, config: EvalConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Run every selected task `config.trials` times in each mode; returns the per-run records."""
    from sidekick.evals.host import HostPool

    tasks = select_tasks(suite, config.task_ids)
    golds = {t.id: gold_hash(suite, t) for t in tasks}
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in config.modes}
    started = time.perf_counter()
    try:
        pool = await HostPool.start(config.concurrency, config.sidekick_command)
    except (RemoteError, SidekickExitedError, asyncio.TimeoutError) as exc:
        raise EvalAborted(f"the sidekick did not start: {str(exc) or 'no answer to initialize'}") from None
    limit = asyncio.Semaphore(config.concurrency)

    async def one(mode: str, task: Task, trial: int) -> None:
        async with limit:
            begun = time.perf_counter()
            outcome = await _trial(pool, suite, task, config, mode)
        environment, answer = outcome.pop("environment"), outcome["answer"]
        verdict = score(task, golds[task.id], environment.state(), answer, outcome["toolCalls"],
                        outcome.pop("answerProblem"))
        runs[mode].append({"task": task.id, "category": task.category, "trial": trial, **verdict, **outcome,
                           "answer": answer[:ANSWER_CHARS],
                           "durationMs": round((time.perf_counter() - begun) * 1000, 1)})
        if progress is not None:
            progress(mode, verdict["reward"] == 1.0)

    try:
        for trial in range(config.trials):
            jobs = [asyncio.create_task(one(mode, task, trial)) for task in tasks for mode in config.modes]
            try:
                await asyncio.gather(*jobs)
            except BaseException:
                for job in jobs:
                    job.cancel()
                await asyncio.gather(*jobs, return_exceptions=True)
                raise
    finally:
        await pool.close()
    order = {t.id: i for i, t in enumerate(tasks)}
    for records in runs.values():
        records.sort(key=lambda r: (order[r["task"]], r["trial"]))
    return {"tasks": tasks, "runs": runs, "durationS": round(time.perf_counter() - started, 2)}


def summarise(suite: Suite, tasks: list[Task], runs: dict[str, list[dict[str, Any]]],
              trials: int) -> dict[str, Any]:
    """pass^k for k = 1..trials, and the pass rate by category, for each mode."""
    categories = [c for c in suite.categories if any(t.category == c for t in tasks)]
    summary: dict[str, Any] = {}
    for mode, records in runs.items():
        successes = {t.id: 0 for t in tasks}
        for record in records:
            successes[record["task"]] += int(record["reward"] == 1.0)
        by_category = {}
        for category in categories:
            ids = [t.id for t in tasks if t.category == category]
            by_category[category] = {"tasks": len(ids),
                                     "passRate": pass_hat_k([successes[i] for i in ids], trials, 1)}
        summary[mode] = {"passRate": pass_hat_k(list(successes.values()), trials, 1),
                         "passHatK": {str(k): pass_hat_k(list(successes.values()), trials, k)
                                      for k in range(1, trials + 1)},
                         "byCategory": by_category,
                         "failedTasks": sorted(i for i, c in successes.items() if c < trials)}
    return summary
