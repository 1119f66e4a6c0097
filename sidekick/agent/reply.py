"""What one model turn amounts to: tool calls (native or written as text), an answer, or a reply the loop
cannot use and must send back with a correction."""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass, field
from typing import AbstractSet, Iterable, Literal, Optional, Sequence

from sidekick.agent.chat import ModelTurn, ToolCall
from sidekick.agent.grounding import ANSWER_KEY, id_tokens
from sidekick.agent.prompt import PLACEHOLDER, name_words
from sidekick.agent.textcalls import parse_text_tool_calls

ReplyProblem = Literal["malformed_call", "invented_tool_result", "max_tokens", "no_answer", "announced_call",
                       "undone_step", "unchecked_ids", "echoed_task", "narrated", "gave_up", "gave_up_at_error",
                       "asked_user", "claimed_change", "gave_up_at_transient_error", "echoed_correction"]
# A problem the model may answer with again: said again after its correction, the reply is taken as it is (it
# may be a real question to the user that merely mentions a tool, or a task that is its own answer). The others,
# and a claimed change (the user would be told of a change never made), end the run when they follow a correction.
SOFT_PROBLEMS = {"announced_call", "undone_step", "unchecked_ids", "echoed_task", "narrated", "gave_up",
                 "gave_up_at_error", "asked_user", "gave_up_at_transient_error"}
MAX_REFUSAL_CHARS = 200
MAX_QUOTED_ERROR_CHARS = 300  # of the error a correction quotes back
ECHO_SIMILARITY = 0.9
MAX_ECHO_CHARS = 4_000
_FIRST_PERSON = (r"I will|I'll|I need to|I must|I am going to|I'm going to|let me(?! know)|let's|we will|we'll|"
                 r"we need to|next,? I")
# An intent phrase, or an order at the start of a sentence or clause ("To get the prices, call get_product"). The
# user cannot call the tools, so "you can call get_user" is the model's own next step, left undone.
_INTENT = re.compile(rf"\b(?:{_FIRST_PERSON}|you (?:will |would )?(?:need|have) to|you (?:should|must)|"
                     r"you (?:can|could|may) (?:now |then |also )?(?:call|use|invoke|run)(?!:))\b|"
                     r"(?:^\s*|[.!?:;,]\s+)(?:please,?\s+|now,?\s+)?(?:call|use|invoke|run)\b",
                     re.IGNORECASE | re.MULTILINE)
# The first person telling of a call made ("I called the `get_user` function"), for `claimed_tool`.
_CLAIM = re.compile(r"\b(?:I|we)(?: have|[’']ve| just| then| first)? (?:called|used|invoked|ran|queried)\b",
                    re.IGNORECASE)
# The first person about to act ("I'll need to", "I can now proceed to"), for `next_step_tools`.
_NEXT_STEP = re.compile(rf"\b(?:{_FIRST_PERSON}|I can(?![’']t)(?! ?not)|proceed(?:ing)? to)\b", re.IGNORECASE)
# Words between an intent phrase and its verb: "I'll need to first place", "I'll try searching".
_BEFORE_THE_VERB = {"now", "then", "first", "next", "also", "just", "need", "needs", "have", "want", "to", "try",
                    "go", "ahead", "and", "proceed", "continue", "be", "able", "going", "by", "quickly"}
# What may follow "I'll" in an answer that is done: "I'll be happy to help", "we'll keep you posted"; and "I need
# to know…" asks the user (`asked_user`).
_NOT_A_STEP = {"happy", "glad", "pleased", "help", "assist", "keep", "let", "gladly", "happily", "know"}
_FIRST_PERSON_STEP = re.compile(rf"\b(?:{_FIRST_PERSON}|proceed(?:ing)? (?:to|with))\b", re.IGNORECASE)
# A reply that says a call comes next ("Here's the corrected call:", "Let's try again") but holds none.
_CALL_FOLLOWS = re.compile(r"\b(?:here(?:'s| is) the (?:corrected |correct |updated |fixed |new )?(?:tool |function )?call|"
                           r"the (?:corrected|correct|updated|fixed) (?:tool |function )?call (?:is|should be|would be)|"
                           r"(?:let's|let me|I will|I'll) (?:try|call it|make the call) again)\b", re.IGNORECASE)
# A refusal that gives no reason ("I'm sorry, but I can't assist with that."), which small models send after a
# failed call as if the error ended the task.
_SORRY = r"^\W*(?:I'?m sorry|I am sorry|sorry|I apologi[sz]e"
_BARE_REFUSAL = re.compile(rf"{_SORRY})\b[^.!?]*?\b(?:can'?t|cannot|can not|am unable to|am not able to) "
                           r"(?:help|assist)(?: you)?(?: with (?:that|this|it|your request|this request))?\W*$",
                           re.IGNORECASE)
# A refusal, or a claim that nothing came back ("I apologize, but I did not receive any response from the tool").
_REFUSAL = re.compile(rf"{_SORRY}|unfortunately)\b.*?"
                      r"\b(?:can'?t|cannot|can not|unable|not able|(?:did not|didn'?t|have not|haven'?t|do not|don'?t) "
                      r"(?:receive|get|see|have)(?: any| a| an| enough)? (?:response|result|information|data|reply))\b",
                      re.IGNORECASE | re.DOTALL)
# A request to the user for more to go on ("Could you please provide the full name and zip code?", "I need to know
# the customer's email", "I don't have enough information"); not a closing offer ("Let me know if…").
_ASKS = re.compile(r"\b(?:please|could you|can you|would you|kindly)\b[^.?!\n]{0,60}?\b"
                   r"(?:provide|give|tell|share|send|specify|clarify)\b|"
                   r"\bI (?:would |will |also |first )?need (?:to know|more|the|your)\b|"
                   r"\b(?:do not|don'?t) have enough (?:information|details)\b", re.IGNORECASE)
# A reply telling of a change as done ("has been updated", "I've cancelled", "was successfully placed"): the word
# after.
_DONE = re.compile(r"\b(?:has|have|had|was|were|is|are|been|[’']ve|successfully)\s+"
                   r"(?:(?:been|now|also|successfully)\s+)*([a-z]+)\b(?!\s+(?:an?|no|nothing|these|results?)\b)",
                   re.IGNORECASE)
_IRREGULAR_PAST = {"pay": "paid", "send": "sent", "buy": "bought", "make": "made", "set": "set", "put": "put",
                   "write": "written"}
# An error that says it is temporary ("temporarily unavailable (503). Please try again.").
_TRANSIENT = re.compile(r"\btemporar(?:y|ily)\b|\b(?:try|retry) (?:again|later)\b|\b(?:502|503|504|429)\b|"
                        r"\btimed out\b|\brate.?limit", re.IGNORECASE)
_QUOTED = re.compile(r'"[^"]*"')
# A word that starts with its digits is an ordinal, a unit or a time ("10th", "5km", "4pm"), not an id.
_MEASURE = re.compile(r"\d+[A-Za-z]*")
# What a reply states: numbers and id-like words (`u_jonah`, `o_1002`, `A-17`).
_FACT = re.compile(r"\d+(?:[.,]\d+)*|\b[A-Za-z]+[_-][\w-]+\b")
_RESPONSE_BLOCK = re.compile(r"<tool_response>\s*(.*?)\s*(?:</tool_response>|$)", re.DOTALL)
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)|\n")


@dataclass(frozen=True)
class RunSoFar:
    """What the run has shown the model before the reply being read."""

    task: str = ""
    results: Sequence[str] = ()  # the tool results, oldest first
    last_result: Optional[str] = None  # the tool result the reply directly follows, if it does
    last_tool: Optional[str] = None  # the tool that gave it
    called: AbstractSet[str] = frozenset()  # the tools the run has called
    arguments: Sequence[str] = ()  # the arguments of every call the run has made, as sent
    succeeded: AbstractSet[str] = frozenset()  # the tools with a call that worked


@dataclass
class Reply:
    """`path` says where the calls came from: the endpoint's `tool_calls` ("native") or the text."""

    calls: list[ToolCall] = field(default_factory=list)
    text: str = ""
    problem: Optional[ReplyProblem] = None
    detail: str = ""
    path: Literal["native", "text", "none"] = "none"
    tool: Optional[str] = None  # the tool an unusable reply was about, when it named one


def read_reply(turn: ModelTurn, tool_names: Iterable[str], seen: RunSoFar = RunSoFar()) -> Reply:
    """Calls first (native, else written in the text), then an answer; anything else is a problem.

    A tool-response block that only quotes a result the run has shown is the model repeating what it read,
    not an invented result, and is left out. A reply that only repeats the task (small models echo the
    question back after a tool result) is no answer, nor is a refusal right after a call that worked, nor one
    that gives no reason right after a call that failed or gives up at an error that says it is temporary, nor
    one that asks the user for more or tells of a change no call made. `{"answer": "…"}` is read as its text.
    """
    content = turn.content or ""
    if turn.tool_calls:
        return Reply(turn.tool_calls, content.strip(), path="native")
    content = held_answer(content) or content
    names = list(tool_names)
    reading = parse_text_tool_calls(content, names)
    if reading.problem == "invented_tool_result":
        unquoted = _without_quoted_results(content, seen.results)
        if unquoted != content:
            return read_reply(ModelTurn(content=unquoted, finish_reason=turn.finish_reason), names, seen)
    if reading.calls:
        copied = next((c.name for c in reading.calls if _has_placeholder(c.arguments)), None)
        if copied is not None:  # the model copied a correction's example call; running it would do harm
            return Reply(text=content, problem="malformed_call", tool=copied,
                         detail=f"the call of {copied} has the example's placeholder {PLACEHOLDER} as a value "
                                "instead of a real one")
        return Reply(reading.calls, reading.text, path="text")
    if reading.problem is not None:
        cut = " (the reply was cut off at the length limit)" if turn.finish_reason == "length" else ""
        return Reply(text=content, problem=reading.problem, detail=reading.detail + cut, tool=reading.tool)
    if turn.finish_reason == "length":
        return Reply(text=content, problem="max_tokens", detail="the reply was cut off at the length limit")
    if not content.strip():
        return Reply(problem="no_answer", detail="the reply was empty")
    announced = announced_tool(content, names)
    if announced is not None:
        return Reply(text=content.strip(), problem="announced_call", tool=announced,
                     detail=f"speaks of calling {announced}, but it holds no call, so nothing ran")
    claimed = claimed_tool(content, names, seen.called)
    if claimed is not None:
        return Reply(text=content.strip(), problem="announced_call", tool=claimed,
                     detail=f"tells of calling {claimed}, but this run never called it, so nothing ran")
    # What a result said makes a reply an answer, whatever it says of steps ("I need to find the user's store
    # credit. … The user's store credit is 62.25.") or of an error after it.
    learned = bool(_learned_facts(content, seen.results, seen.task, errors=False))
    stepped = [] if learned else next_step_tools(content, names)
    if _CALL_FOLLOWS.search(content) or stepped:
        tool = stepped[0] if len(stepped) == 1 else None
        which = f" (a call of {tool})" if tool else ""
        return Reply(text=content.strip(), problem="announced_call", tool=tool,
                     detail=f"says what comes next{which}, but it holds no call, so nothing ran")
    claimed = claimed_change(content, names, seen)
    if claimed is not None:
        word, tools = claimed
        return Reply(text=content.strip(), problem="claimed_change", tool=tools[0] if len(tools) == 1 else None,
                     detail=f'says it was {word}, but no call of {" or ".join(tools)} has worked in this run')
    asked = asked_user(content, seen)
    if asked is not None and names:
        return Reply(text=content.strip(), problem="asked_user", detail=asked)
    step = undone_step(content, seen.results, seen.task)
    if step is not None:
        return Reply(text=content.strip(), problem="undone_step",
                     detail=f'says what it will do ("{step}") but does none of it')
    unchecked = unchecked_ids(content, seen)
    if unchecked:
        return Reply(text=content.strip(), problem="unchecked_ids", detail=", ".join(unchecked))
    narrated = narrated_tool(content, names, seen.results, seen.task)
    if narrated is not None:
        return Reply(text=content.strip(), problem="narrated", tool=narrated,
                     detail=f"tells of {narrated} instead of stating what the results say")
    last = seen.last_result
    if last is not None and last.startswith("Error") and _TRANSIENT.search(_quoted_error(last)) and not learned:
        return Reply(text=content.strip(), problem="gave_up_at_transient_error", detail=_quoted_error(last),
                     tool=seen.last_tool)
    if last is not None and len(content) <= MAX_REFUSAL_CHARS:
        if not last.startswith("Error") and _REFUSAL.search(content):
            return Reply(text=content.strip(), problem="gave_up",
                         detail="refused although the calls before it succeeded")
        if last.startswith("Error") and _BARE_REFUSAL.search(content):
            return Reply(text=content.strip(), problem="gave_up_at_error", detail=_quoted_error(last))
    if seen.task and repeats(content, seen.task):
        return Reply(text=content.strip(), problem="echoed_task", detail="only repeated the task")
    return Reply(text=content.strip())


def held_answer(content: str) -> str | None:
    """The answer of a reply that is only `{"answer": "…"}` (the form `grounding.decision_schema` holds a turn
    to, which models also write unasked), else None."""
    text = content.strip()
    if not (text.startswith("{") and text.endswith("}") and f'"{ANSWER_KEY}"' in text):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    answer = value.get(ANSWER_KEY) if isinstance(value, dict) and len(value) == 1 else None
    return answer if isinstance(answer, str) and answer.strip() else None


def _quoted_error(result: str) -> str:
    """The error of a tool result, short and without the loop's own notes after it."""
    error = result.partition("\n")[0].removeprefix("Error:").strip()
    return error if len(error) <= MAX_QUOTED_ERROR_CHARS else error[:MAX_QUOTED_ERROR_CHARS] + "…"


def _has_placeholder(arguments: object) -> bool:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return False
    return isinstance(arguments, dict) and PLACEHOLDER in arguments.values()


def repeats(reply: str, task: str) -> bool:
    """Whether a reply is the task said again (give or take case, spacing and a few words)."""
    said, asked = (" ".join(text.lower().split()) for text in (reply, task))
    if len(asked) > MAX_ECHO_CHARS or len(said) > MAX_ECHO_CHARS:
        return said == asked  # the similarity below is quadratic in the worst case
    matcher = difflib.SequenceMatcher(None, said, asked, autojunk=False)
    return matcher.real_quick_ratio() >= ECHO_SIMILARITY and matcher.ratio() >= ECHO_SIMILARITY


def echoes(reply: str, note: str) -> bool:
    """Whether a reply writes back a note it was sent: opens as it does ("Your last reply was empty. Please…"),
    holds a part of it, or holds it all."""
    # Without what the note quotes: a correction quotes the reply it answers, which the model may say again.
    said, told = (" ".join(text.lower().split()) for text in (reply, _QUOTED.sub("", note)))
    opening = len(os.path.commonprefix([said, told]))
    return len(said) >= 20 and (opening >= 24 or said[:60] in told or told[:60] in said)


def _without_quoted_results(content: str, results: Sequence[str]) -> str:
    """`content` without the tool-response blocks that quote a real result; unchanged if any block does not."""
    seen = [" ".join(result.split()) for result in results]
    blocks = list(_RESPONSE_BLOCK.finditer(content))
    quoted = [b for b in blocks if (body := " ".join(b.group(1).split())) and any(body in r for r in seen)]
    if not blocks or len(quoted) != len(blocks):
        return content
    return _RESPONSE_BLOCK.sub("", content).strip()


def next_step_tools(text: str, tool_names: Iterable[str]) -> list[str]:
    """The tools a reply says it is about to use, by what they do ("I'll need to place a new order", "I can
    proceed to update the address", "I'll try searching again"): an intent phrase, then a form of the verb
    that begins a tool's name. Several tools begin with that verb: the ones the sentence names more of."""
    named = [(name, words) for name, words in ((n, name_words(n)) for n in tool_names) if words]
    for match in _NEXT_STEP.finditer(text):
        said = [w.lower() for w in re.findall(r"[A-Za-z]+", _sentence_after(text, match, 80))]
        act = next((w for w in said if w not in _BEFORE_THE_VERB), "")
        doing = [(name, words) for name, words in named if act in _verb_forms(words[0])]
        if doing:
            overlap = {name: len(set(said).intersection(words[1:])) for name, words in doing}
            best = max(overlap.values())
            return [name for name in overlap if overlap[name] == best]
    return []


def undone_step(text: str, tool_results: Sequence[str], task: str) -> str | None:
    """The words in which a would-be answer says what it will do next ("I'll need to check if the order
    exists", "I will translate it", "we need to follow these steps"), when it states nothing the results said;
    None for an answer that is done ("I'll be happy to help", "Let me know if…"). What an error said is not
    learned here: "I'll call `find_order` with the id o_2" after the error about o_2 still does nothing."""
    if _learned_facts(text, tool_results, task, errors=False):
        return None
    for match in _FIRST_PERSON_STEP.finditer(text):
        after = _sentence_after(text, match, 80)
        said = [w.lower() for w in re.findall(r"[A-Za-z]+", after)]
        act = next((w for w in said if w not in _BEFORE_THE_VERB), None)
        if act is None and match.group(0).lower().startswith("proceed"):
            act = "proceed"
        if act is not None and act not in _NOT_A_STEP:
            return " ".join((match.group(0) + after).split()).rstrip(" :0123456789")
    return None


def claimed_change(text: str, tool_names: Iterable[str], seen: RunSoFar) -> tuple[str, list[str]] | None:
    """A change a would-be answer tells of as done ("The address has been updated", "I've cancelled it") that no
    call made: the word, and the offered tools that make it (by the verb that begins their names), none of
    which has worked in this run. Not a state the results show ("Order o_1 is cancelled" after reading it)."""
    doers: dict[str, list[str]] = {}
    for name in tool_names:
        for form in _past_forms(name):
            doers.setdefault(form, []).append(name)
    done = {form for name in seen.succeeded if name for form in _past_forms(name)}
    results = "\n".join(seen.results).lower()
    for match in _DONE.finditer(text):
        word = match.group(1).lower()
        if word in doers and word not in done and not re.search(rf"\b{re.escape(word)}\b", results):
            return word, doers[word]
    return None


def _past_forms(tool_name: str) -> set[str]:
    """`cancel_order`: canceled, cancelled; `place_order`: placed; `pay_invoice`: paid."""
    words = name_words(tool_name)
    if not words:
        return set()
    verb = words[0]
    forms = {verb + "d" if verb.endswith("e") else verb + "ed"}
    if len(verb) >= 3 and verb[-1] not in "aeiouwy" and verb[-2] in "aeiou":
        forms.add(verb + verb[-1] + "ed")
    if len(verb) >= 3 and verb.endswith("y") and verb[-2] not in "aeiou":
        forms.add(verb[:-1] + "ied")
    if verb in _IRREGULAR_PAST:
        forms = {_IRREGULAR_PAST[verb]}
    return forms


def asked_user(text: str, seen: RunSoFar) -> str | None:
    """The words in which a would-be answer asks the user for more to go on, when it states nothing the results
    said ("I need to know the customer's user id"); None for an answer with a follow-up question."""
    match = _ASKS.search(text)
    if match is None or _learned_facts(text, seen.results, seen.task, errors=False):
        return None
    return " ".join((match.group(0) + _sentence_after(text, match, 80)).split())


def unchecked_ids(text: str, seen: RunSoFar) -> list[str]:
    """The ids of the task a would-be answer speaks of that no call has asked about and no result has named,
    once the run has called tools ("The status of o_1001, o_1003 and o_1010 is delivered" after one lookup)."""
    if not seen.results:
        return []
    looked_up = "\n".join([*seen.results, *seen.arguments])
    return [token for token in id_tokens(text) if token in seen.task and token not in looked_up
            and not _MEASURE.fullmatch(token)]


def _sentence_after(text: str, match: re.Match[str], limit: int) -> str:
    """What follows `match` in its sentence, at most `limit` characters of it."""
    rest = text[match.end():match.end() + limit]
    end = _SENTENCE_END.search(rest)
    return rest[:end.start()] if end else rest


def _verb_forms(verb: str) -> set[str]:
    """`search`, `searches`, `searched`, `searching`; `place`, `placing`; `get`, `getting`."""
    forms = {verb, verb + "s", verb + "es", verb + "ed", verb + "d", verb + "ing"}
    if verb.endswith("e"):
        forms.add(verb[:-1] + "ing")
    if len(verb) >= 3 and verb[-1] not in "aeiouwy" and verb[-2] in "aeiou":
        forms.update({verb + verb[-1] + "ing", verb + verb[-1] + "ed"})
    return forms


def narrated_tool(text: str, tool_names: Iterable[str], tool_results: Sequence[str], task: str) -> str | None:
    """The tool a would-be answer tells of ("I called the `get_product` function…") when the run has results
    and it states nothing they said: no number or id from a result that the task did not already hold."""
    named = next((name for name in tool_names if _names_tool(text, name)), None) if tool_results else None
    if named is None:
        return None
    return None if _learned_facts(text, tool_results, task) else named


def _learned_facts(text: str, tool_results: Sequence[str], task: str, errors: bool = True) -> list[str]:
    """The numbers and ids `text` states that a result said (as a whole word: "1" is not in "189.0") and the
    task did not already hold; without `errors`, only results that worked count."""
    results = "\n".join(result for result in tool_results if errors or not result.startswith("Error"))
    return [fact for fact in _FACT.findall(text) if fact not in task
            and re.search(rf"(?<![\w.]){re.escape(fact)}(?!\w)", results)]


def _names_tool(text: str, name: str) -> bool:
    # A name that is a plain word ("calculate") counts only when quoted or called a tool or function.
    plain = re.fullmatch(r"[a-z]+", name) is not None
    pattern = (rf"[`'\"]{re.escape(name)}[`'\"]|\b{re.escape(name)}\s+(?:tool|function)\b" if plain
               else rf"(?<![\w-]){re.escape(name)}(?![\w-])")
    return re.search(pattern, text) is not None


def announced_tool(text: str, tool_names: Iterable[str]) -> str | None:
    """The offered tool a reply says it is about to call ("I will call `get_order` with …"), if any."""
    return _tool_after(_INTENT, text, set(tool_names))


def claimed_tool(text: str, tool_names: Iterable[str], called: AbstractSet[str]) -> str | None:
    """An offered tool a reply says was called ("I called the `get_user` function") that the run never called."""
    return _tool_after(_CLAIM, text, set(tool_names) - set(called))


def _tool_after(phrase: re.Pattern[str], text: str, names: set[str]) -> str | None:
    for match in phrase.finditer(text):
        for name in re.findall(r"[A-Za-z_][\w-]*", _sentence_after(text, match, 160)):
            if name in names:
                return name
    return None
