"""What a benchmark suite is, how suites are found, and how a trial is scored.

A suite is anything with the `Suite` shape: a name, a system prompt (the domain's policy), its tasks, the
tools a task offers the agent (as host tools), and a fresh environment per trial that executes those tools
against that trial's own database. Scoring follows tau-bench: a trial passes when the final database hashes
equal to the gold database (the initial one with the task's gold actions replayed) and every required
string appears in the agent's answer. Suites are looked up by name in `BUILTIN_SUITES` and then in the
entry-point group `sidekick.eval_suites`, so an adapter for a standard benchmark plugs in from its own
package without touching the runner.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

ENTRY_POINT_GROUP = "sidekick.eval_suites"
BUILTIN_SUITES = {"shop": "sidekick.evals.shop:ShopSuite", "clinic": "sidekick.evals.clinic:ClinicSuite"}


@dataclass(frozen=True)
class Call:
    """One tool call: a gold action, or one the agent made."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    """One benchmark task.

    `actions` is the gold trajectory as turns: each turn is a list of calls that can go in parallel, and a
    later turn may depend on an earlier turn's results. Calls that fail on purpose (the error a recovery
    task must get past) belong in it too: they change nothing, and a scripted oracle replays them.
    """

    id: str
    category: str
    instruction: str
    actions: tuple[tuple[Call, ...], ...] = ()
    outputs: tuple[str, ...] = ()
    builtins: tuple[str, ...] = ()  # the sidekick's own tools this task may use (e.g. calculate)
    forbid_tools: bool = False  # a task to answer without any tool call
    faults: tuple[tuple[str, int], ...] = ()  # (tool, n): the first n calls of that tool fail transiently

    @property
    def gold_calls(self) -> list[Call]:
        return [call for turn in self.actions for call in turn]


@dataclass
class ToolResult:
    text: str
    is_error: bool = False


class Environment(Protocol):
    """One trial's private world: runs the suite's tools against its own copy of the database."""

    def call(self, name: str, arguments: dict[str, Any]) -> ToolResult: ...

    def state(self) -> Any:
        """The database as JSON-able data, for hashing."""


class Suite(Protocol):
    name: str
    description: str
    system_prompt: str
    categories: tuple[str, ...]

    def tasks(self) -> list[Task]: ...

    def tool_specs(self, task: Task) -> list[dict[str, Any]]:
        """Host tools as MCP tool specs: {name, description, inputSchema}."""

    def new_environment(self, task: Task) -> Environment: ...


def state_hash(state: Any) -> str:
    """sha256 of the canonical JSON (sorted keys, no whitespace) of a database."""
    canonical = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def gold_hash(suite: Suite, task: Task) -> str:
    """The hash the final database must have: the task's gold actions replayed on a fresh environment."""
    env = suite.new_environment(task)
    domain = {spec["name"] for spec in suite.tool_specs(task)}
    for call in task.gold_calls:
        if call.name in domain:
            env.call(call.name, dict(call.arguments))
    return state_hash(env.state())


NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _normalise(text: str) -> str:
    return text.lower().replace(",", "")


def _said(output: str, said: str) -> bool:
    wanted = _normalise(output)
    number = NUMBER.fullmatch(wanted)
    if number is None:
        return wanted in said
    # Stricter than tau-bench's plain substring: "5" must not pass inside "15" or "2.5", while "94" still
    # matches "94.00" and "32.4" matches "32.40".
    zeros = r"0*" if number.group(1) else r"(?:\.0+)?"
    return re.search(rf"(?<![\d.]){re.escape(wanted)}{zeros}(?!\.?\d)", said) is not None


def missing_outputs(task: Task, answer: str) -> list[str]:
    """Required strings absent from the answer (case-insensitive, thousands separators ignored; a number
    counts only as a whole number, not as part of a longer one)."""
    said = _normalise(answer)
    return [out for out in task.outputs if not _said(out, said)]


ANSWER_PROBLEMS = {"malformed_call": "malformed call", "invented_tool_result": "invented tool result"}


def score(task: Task, gold: str, final_state: Any, answer: str, tool_calls: int,
          answer_problem: str | None = None) -> dict[str, Any]:
    """The verdict on one trial, with the reasons it failed.

    `answer_problem` is set when the final answer is not an answer at all: call-like text or a tool result
    the model invented (one of ANSWER_PROBLEMS); such a trial fails whatever else it got right.
    """
    db_match = state_hash(final_state) == gold
    missing = missing_outputs(task, answer)
    tools_ok = not (task.forbid_tools and tool_calls)
    passed = db_match and not missing and tools_ok and answer_problem is None
    return {"reward": 1.0 if passed else 0.0, "dbMatch": db_match, "missingOutputs": missing,
            "toolCalls": tool_calls, "toolsForbiddenButUsed": not tools_ok, "answerProblem": answer_problem}


def pass_hat_k(successes: list[int], trials: int, k: int) -> float:
    """tau-bench's pass^k: mean over tasks of C(c, k) / C(n, k), the chance k fresh trials all pass."""
    if not successes or k > trials:
        return 0.0
    return sum(math.comb(c, k) / math.comb(trials, k) for c in successes) / len(successes)


def available_suites() -> dict[str, str]:
    """Suite name → "module:attribute", built-ins first, then installed entry points."""
    from importlib.metadata import entry_points

    found = dict(BUILTIN_SUITES)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def load_suite(name: str) -> Suite:
    """Instantiate the suite registered under `name`; ValueError names the known ones."""
    import importlib

    suites = available_suites()
    if name not in suites:
        raise ValueError(f"unknown suite {name!r}; available: {', '.join(sorted(suites))}")
    module, _, attribute = suites[name].partition(":")
    factory = getattr(importlib.import_module(module), attribute)
    return factory()
