"""Fitting a transcript: by characters exactly as before, by estimated tokens with the same rules."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sidekick.agent.tokens import message_tokens
from sidekick.agent.transcript import (MIN_KEPT_CHARS, fit_to_tokens, fit_transcript, fitted, message_chars,
                                       shorten)


def reference_fit(messages: list[dict[str, Any]], budget: int, protected_from: int) -> list[dict[str, Any]]:
    """The character fit as it was before it was generalised: the oracle for unchanged behaviour."""
    total = sum(message_chars(m) for m in messages)
    if total <= budget:
        return messages
    fitted = [dict(m) for m in messages]
    for message in fitted:
        if total <= budget:
            break
        if message.get("role") != "tool" or not isinstance(message.get("content"), str):
            continue
        before = len(message["content"])
        keep = max(MIN_KEPT_CHARS, before - (total - budget))
        if keep < before:
            message["content"] = shorten(message["content"], keep)
            total -= before - len(message["content"])
    start = 1 if fitted and fitted[0].get("role") == "system" else 0
    while total > budget and start < protected_from:
        dropped = fitted.pop(start)
        total -= message_chars(dropped)
        protected_from -= 1
        while start < protected_from and fitted[start].get("role") == "tool":
            total -= message_chars(fitted.pop(start))
            protected_from -= 1
    return fitted


def turn(index: int, result: str) -> list[dict[str, Any]]:
    call = {"id": f"c{index}", "type": "function", "function": {"name": "lookup", "arguments": '{"k": 1}'}}
    return [{"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"c{index}", "content": result}]


def transcript(earlier: int, results: list[str]) -> tuple[list[dict[str, Any]], int]:
    history = []
    for i in range(earlier):
        history += [{"role": "user", "content": f"earlier question {i} " * 20},
                    {"role": "assistant", "content": f"earlier answer {i} " * 20}]
    messages = [{"role": "system", "content": "You are the sidekick."}, *history,
                {"role": "user", "content": "the task"}]
    task = len(messages) - 1
    for i, result in enumerate(results):
        messages += turn(i, result)
    return messages, task


@settings(max_examples=60, deadline=None)
@given(earlier=st.integers(0, 3), sizes=st.lists(st.integers(0, 5000), max_size=5),
       budget=st.integers(0, 12_000))
def test_the_character_fit_is_unchanged(earlier: int, sizes: list[int], budget: int) -> None:
    messages, task = transcript(earlier, ["r" * n for n in sizes])
    assert fit_transcript(messages, budget, task) == reference_fit(messages, budget, task)


def tokens(messages: list[dict[str, Any]]) -> int:
    return sum(message_tokens(m) for m in messages)


def test_the_token_fit_shortens_the_oldest_tool_results_first() -> None:
    digits = "\n".join(f"{i},{i * 7919 % 100000},{i * 31:.2f}" for i in range(1500))
    prose = "The quick brown fox reads the page and reports back. " * 400
    messages, task = transcript(0, [digits, prose, "the latest result"])
    budget = tokens(messages) - 3000
    out = fit_to_tokens(messages, budget, task)
    assert tokens(out) <= budget
    results = [m["content"] for m in out if m["role"] == "tool"]
    assert "cut to fit" in results[0] and results[1] == prose and results[2] == "the latest result"
    assert [m["role"] for m in out] == [m["role"] for m in messages]  # nothing dropped, pairs intact
    assert messages[3]["content"] == digits  # the original is not modified


def test_the_token_fit_cuts_digits_by_their_token_density() -> None:
    digits = "".join(str(i % 10) for i in range(20_000))
    prose = "word " * 4000
    for text in (digits, prose):
        messages, task = transcript(0, [text])
        budget = tokens(messages) - 2000
        out = fit_to_tokens(messages, budget, task)
        assert budget - 200 <= tokens(out) <= budget, text[:10]


def test_then_earlier_turns_are_dropped_and_the_task_and_system_are_kept() -> None:
    messages, task = transcript(3, ["x" * 150])  # under MIN_KEPT_CHARS: nothing to shorten
    budget = tokens(messages[:1]) + tokens(messages[task:]) + 40
    out = fit_to_tokens(messages, budget, task)
    assert out[0] == messages[0] and out[1] == messages[task] and out[-2:] == messages[-2:]
    assert len(out) == 4


def test_a_transcript_that_fits_comes_back_as_is() -> None:
    messages, task = transcript(1, ["short"])
    assert fit_to_tokens(messages, 10_000, task) is messages


class Budgeted:
    def __init__(self, budget: int | None) -> None:
        self.budget = budget
        self.tools_seen: list[Any] = []

    async def prompt_budget(self, tools: list[dict[str, Any]]) -> int | None:
        self.tools_seen.append(tools)
        return self.budget


async def test_fitted_uses_the_model_s_budget_and_leaves_unknown_windows_alone() -> None:
    messages, task = transcript(2, ["z" * 4000])
    tools = [{"name": "lookup", "description": "", "inputSchema": {"type": "object"}}]
    small = Budgeted(600)
    out = await fitted(small, messages, tools, task)
    assert tokens(out) <= 600 and small.tools_seen == [tools]
    assert await fitted(Budgeted(None), messages, tools, task) is messages
    assert await fitted(object(), messages, tools, task) is messages  # a model without prompt_budget


async def test_fitted_applies_the_character_budget_first_and_keeps_the_task_protected() -> None:
    messages, task = transcript(3, ["q" * 3000, "the latest result"])
    out = await fitted(Budgeted(None), messages, [], task, budget_chars=2_500)
    assert out == fit_transcript(messages, 2_500, task)
    both = await fitted(Budgeted(300), messages, [], task, budget_chars=2_500)
    assert len(both) < len(out) and both[0] == messages[0]
    assert both[-5] == messages[task] and both[-1]["content"] == "the latest result"  # task and pairs intact
    assert [m["role"] for m in both[-5:]] == ["user", "assistant", "tool", "assistant", "tool"]
