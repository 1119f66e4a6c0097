"""What the model is told: the system prompt of a run, and the corrections the loop sends when a reply
cannot be used (a broken call, an invented tool result, an empty or cut-off reply)."""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from sidekick.run_protocol import RunParams

BASE_INSTRUCTIONS = (
    "You are a careful assistant with tools. Work step by step: call a tool when it helps, read its result, "
    "and decide the next step from what it returned. Keep going until the task is completely done. When "
    "several calls do not depend on each other, make them together in one reply. Do not guess ids or other "
    "values: take them from the task or look them up with a tool. Never write a tool's result yourself. When "
    "a tool fails, read the error and correct the call or try another way. When you have what the task "
    "needs, answer plainly and concisely without calling more tools."
)
NO_TOOLS_INSTRUCTIONS = "You are a careful assistant. Answer plainly and concisely."
CALCULATE_HINT = "Use the calculate tool for arithmetic instead of computing in your head."
MAX_CONTEXT_CHARS = 8_000
TYPO_SIMILARITY = 0.8  # a missing tool this close to an offered one is a typo of it ("get_usr")
PLACEHOLDER = "…"  # an argument value in the example call of a correction
REPEATED_CALL_NOTE = ("(You already made this exact call, and this is its result again; it was not run twice. "
                      "Use the result, or make a different call.)")
REPEATED_CALLS_NOTE = ("Every call of your last reply had been made before, so nothing new came back. If the results "
                       "above answer the task, give the final answer now; if not, make a different call.")
FAILED_AGAIN_NOTE = ("(This exact call has failed before with the same error. Unless the error says it is temporary, "
                     "sending it again unchanged will not help: change the arguments, looking up the right values "
                     "with another tool first if needed, or tell the user why the task cannot be done.)")

# Said where the reply to a correction is held to `grounding.decision_schema`: the grammar allows both forms,
# and the model picks one by what it was told.
DECISION_FORMAT = ('Reply in JSON: the next tool call {"name": "<tool>", "arguments": {...}} (a list of them for '
                   'several), or {"answer": "<your final answer to the user>"} once the task is done.')


def guessed_value_note(guessed: list[tuple[str, str]]) -> str:
    """Said after a failed call whose id arguments appear nowhere the model could have read them."""
    shown = ", ".join(f"{name}={value!r}" for name, value in guessed[:3])
    return (f"(Note: {shown} appears nowhere in the task or in any earlier tool result, so it was guessed. "
            "Do not make up ids: find the real value with one of your tools first (one that looks up, searches "
            "or lists what the task is about), then make this call with it.)")


def render_context(context: dict[str, Any]) -> str:
    """Host facts as `key: value` lines; nested values as compact JSON."""
    lines = []
    for key, value in context.items():
        if value is None or value == "" or value == [] or value == {}:
            continue
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        lines.append(f"- {key}: " + shown.strip().replace("\n", "\n  "))  # keep multi-line values in the item
    text = "\n".join(lines)
    return text if len(text) <= MAX_CONTEXT_CHARS else text[:MAX_CONTEXT_CHARS] + "\n…(context cut)"


def system_prompt(params: RunParams, tool_names: list[str]) -> str:
    """The run's system message; it speaks only of tools the run offers."""
    parts = [BASE_INSTRUCTIONS if tool_names else NO_TOOLS_INSTRUCTIONS]
    if "calculate" in tool_names:
        parts[0] += " " + CALCULATE_HINT
    if params.system:
        parts.append(params.system.strip())
    if params.context:
        rendered = render_context(params.context)
        if rendered:
            parts.append("Context from the host:\n" + rendered)
    return "\n\n".join(parts)


def name_words(name: str) -> list[str]:
    """The words of a tool name: `find_user_by_email` and `findUserByEmail` give find, user, by, email."""
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name)]


def related_tools(wanted: str, names: list[str]) -> list[str]:
    """Offered tools whose names share a word with `wanted` beyond its first (usually a verb): for
    `find_order`, the tools about orders."""
    topic = {w for w in name_words(wanted)[1:] if len(w) > 2}
    return [name for name in names if topic.intersection(name_words(name)[1:])]


def _example_call(specs: list[dict[str, Any]], name: str | None = None) -> str:
    """A call of the named tool (else the run's first) with its required arguments as placeholders."""
    if not specs:
        return '{"name": "<tool>", "arguments": {}}'
    spec = next((s for s in specs if s["name"] == name), specs[0])
    schema = spec.get("inputSchema") or {}
    required = [key for key in schema.get("required") or [] if isinstance(key, str)][:4]
    return json.dumps({"name": spec["name"], "arguments": {key: PLACEHOLDER for key in required}}, ensure_ascii=False)


def correction(problem: str, detail: str, specs: list[dict[str, Any]], max_tokens: int | None = None,
               tool: str | None = None) -> str:
    """The message that tells the model why its last reply could not be used and what to send instead.

    `tool` is the tool the reply was about, when it named one: the example call uses it (or the offered
    name closest to it).
    """
    names = [s["name"] for s in specs]
    missing = tool is not None and tool not in names
    near = difflib.get_close_matches(tool, names, n=1, cutoff=TYPO_SIMILARITY) if missing else []
    related = related_tools(tool, names) if missing and not near else []
    if problem == "malformed_call" and missing and not near and related:
        example = _example_call(specs, related[0])
        return (f"Your last reply looks like a tool call but could not be used: {detail}. Tools with similar names: "
                f"{', '.join(related)}; pick the one that does what you need. To call a tool, reply with only the "
                f"call, for example {example}, one per call, with real values. If you need no tool, answer in plain "
                "words without any JSON.")
    if problem == "malformed_call" and missing and not near:
        # No example call here: shown one after naming a tool it does not have, the 1.5B ran the example
        # with made-up values (both times in a full shop run) where the task needed no tool at all.
        return (f"Your last reply looks like a tool call but could not be used: {detail}. No tool of this run "
                "does that. If none of the tools fits the task, it needs no tool: answer it yourself now, in "
                "plain words without any JSON. Call a tool only if one of those listed gives what the task asks.")
    example = _example_call(specs, tool if tool in names else (near[0] if near else None))
    how = (f"To call a tool, reply with only the call, for example {example}, one per call. The tools you can "
           f"call: {', '.join(names) or 'none'}.")
    if problem == "malformed_call":
        hint = f" Did you mean {near[0]}?" if near else ""
        return (f"Your last reply looks like a tool call but could not be used: {detail}.{hint} {how} If you need "
                "no tool, answer in plain words without any JSON.")
    if problem == "invented_tool_result":
        return ("Your last reply contains a tool result that you wrote yourself; results come only from the tools. "
                f"Reply with only the next tool call, or with your final answer from the results above. {how}")
    if problem == "announced_call" and tool in names:
        # No how-to here: shown one after announcing a call, the 1.5B wrote the how-to back as its reply;
        # without it (and with the tool forced) it made the call.
        return (f"Your last reply {detail}. If you need that tool, reply now with only the call. If you already "
                "have everything the task needs, give your final answer instead.")
    if problem == "announced_call":
        return (f"Your last reply {detail}. If you need a tool, reply now with only the call. {how} If you "
                "already have everything the task needs, give your final answer instead.")
    if problem == "undone_step":
        # No example call here either: the step may need no tool at all ("I will translate it").
        return (f"Your last reply {detail}: nothing was done, and the user can neither run your tools nor see their "
                "results. Do that step now: if a tool does it, reply with only the call; if it needs no tool, or you "
                "already have what the task needs, reply with the final answer itself.")
    if problem == "unchecked_ids":
        return (f"Your last reply speaks of {detail}, but no call so far has looked at that, so what it says of it is "
                "not known yet. Look it up first (calls that do not depend on each other go together in one reply), "
                "then answer from the results.")
    if problem == "claimed_change":
        return (f"Your last reply {detail}: nothing was changed, yet the user would believe it was. If the task asks "
                "for that change, make the call now; otherwise answer with only what the results above show.")
    if problem == "asked_user":
        return (f'Your last reply asks the user for more ("{detail}"). Before asking, find it yourself: what the task '
                "needs is in the task and the results above, or one of your tools can find it (those that find, "
                "search, list or get). Make that call now. Only if no tool can find it, say so in your final answer.")
    if problem == "narrated":
        return ("Your last reply tells of the tool calls instead of answering. The user sees neither the tools nor "
                "their results: answer the task itself now, stating the actual values from the results above "
                "(names, numbers, ids, statuses). If the task still needs a tool call, reply with only that call.")
    if problem == "gave_up":  # shown its own refusal and asked again, the 1.5B said it again; without it, it answered
        return "The tool calls above succeeded. Answer the task now from their results, or make the next call it needs."
    if problem == "gave_up_at_error":  # told the error again and to fix the call, the 1.5B wrote the fixed call
        return (f'The task is not done: your last reply gave up after the error "{detail}". Fix that call and send '
                "it again.")
    if problem == "gave_up_at_transient_error":
        return (f'The task is not done: the last call failed with "{detail}", which says the failure is temporary. '
                "Send that same call again now.")
    if problem == "echoed_task":
        return ("Your last reply only repeated the task; it is not an answer. Read the tool results above and "
                f"answer the task from them in your own words, or call the next tool you need. {how}")
    if problem == "max_tokens":
        limit = f" of {max_tokens} tokens" if max_tokens else ""
        return (f"Your last reply was cut off at the length limit{limit} before it ended. Reply again, "
                "shorter: call the tools you need, or give the answer briefly.")
    return "Your last reply was empty. Answer the task now in plain words, or call a tool if you still need one."
