"""Scripted models for running an eval with no LLM: an oracle that makes the gold calls, and a faulty one.

Both are functions of the chat-completion request body, for `sidekick.testing.scripted_server`. They find
the task by its instruction (the first user message), count the tool results the transcript shows, and
emit the next gold turn; once every gold call's result is in view they answer with the required strings.
A model that never sees results (the `upfront` baseline) therefore makes only the first turn's calls and
cannot give an answer that needs them, exactly as a real model could not.

The faulty model is the oracle with one known mistake: every `place_order` asks for one more of each item,
so it fails exactly the tasks whose gold trajectory places an order.

The textual model is the oracle as a real small model behaves: it writes its calls into the reply's text in
the recorded forms of `sidekick.testing.realshapes` (a different form turn by turn), and in every third
task its first reply is unusable (a look-alike tool name, an invented tool result, a call it tells the user to
make, or a call it promises and does not send) until corrected.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from sidekick.evals.suite import Call, Suite, Task
from sidekick.testing import realshapes

SCRIPTS = ("oracle", "faulty", "textual")
FAULTY_TOOL = "place_order"
UNKNOWN_TASK = "I do not know this task."


def _overorder(call: Call) -> dict[str, Any]:
    arguments = copy.deepcopy(call.arguments)
    for item in arguments.get("items", []):
        item["quantity"] += 1
    return arguments


def expected_failures(suite: Suite, script: str) -> set[str]:
    """The task ids a scripted model must fail (with the sidekick loop)."""
    if script != "faulty":
        return set()
    return {t.id for t in suite.tasks() if any(c.name == FAULTY_TOOL for c in t.gold_calls)}


def _instruction(body: dict[str, Any]) -> str:
    for message in body.get("messages") or []:
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return message["content"]
    return ""


def _answer(task: Task, complete: bool) -> dict[str, Any]:
    if not complete:
        return {"content": "I have taken the actions you asked for."}
    return {"content": "All done. " + "; ".join(task.outputs) if task.outputs else "All done."}


def model_script(suite: Suite, script: str = "oracle") -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The reply function of the named scripted model for this suite's tasks."""
    if script not in SCRIPTS:
        raise ValueError(f"unknown model script {script!r}; choose from {', '.join(SCRIPTS)}")
    tasks = {t.instruction: t for t in suite.tasks()}
    order = {t.instruction: i for i, t in enumerate(suite.tasks())}

    def arguments(call: Call) -> dict[str, Any]:
        return _overorder(call) if script == "faulty" and call.name == FAULTY_TOOL else dict(call.arguments)

    def calls(body: dict[str, Any], turn: tuple[Call, ...], number: int) -> dict[str, Any]:
        if script != "textual":
            return {"tool_calls": [{"name": c.name, "arguments": arguments(c)} for c in turn]}
        pairs = [(c.name, arguments(c)) for c in turn]
        index = order[_instruction(body)]
        roles = [m.get("role") for m in body.get("messages") or []]
        first_reply = "assistant" not in roles and roles.count("user") == 1  # a correction is a second user turn
        if first_reply and index % 3 == 0:
            return {"content": realshapes.UNUSABLE_FORMS[index // 3 % len(realshapes.UNUSABLE_FORMS)](pairs)}
        return {"content": realshapes.TEXT_FORMS[(index + number) % len(realshapes.TEXT_FORMS)](pairs)}

    def reply(body: dict[str, Any]) -> dict[str, Any]:
        task = tasks.get(_instruction(body))
        if task is None:
            return {"content": UNKNOWN_TASK}
        seen = sum(1 for m in body.get("messages") or [] if m.get("role") == "tool")
        total = len(task.gold_calls)
        if not body.get("tools"):  # asked for an answer only
            return _answer(task, seen == total)
        done = 0
        for number, turn in enumerate(task.actions):
            if seen == done:
                return calls(body, turn, number)
            done += len(turn)
        return _answer(task, seen == total)

    return reply
