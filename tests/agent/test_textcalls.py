"""Tool calls written as text: every form real models write is recovered exactly; prose stays prose."""

from __future__ import annotations

import json
import keyword
from typing import Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidekick.agent.textcalls import parse_text_tool_calls

Calls = list[tuple[str, dict[str, Any]]]
KNOWN = ["get_product", "calculate", "goodbye", "find_user_by_email"]


def as_json(name: str, arguments: dict[str, Any], key: str = "arguments") -> str:
    return json.dumps({"name": name, key: arguments}, ensure_ascii=False)


def found(text: str, known: list[str] = KNOWN) -> Calls:
    return [(c.name, c.arguments) for c in parse_text_tool_calls(text, known).calls]


# Shapes recorded from Qwen2.5-Coder 1.5B/0.5B behind llama-server --jinja (temperature 0, shop suite).
RECORDED = [
    ('```json\n{\n  "name": "get_product",\n  "arguments": {\n    "product_id": "p_lantern"\n  }\n}\n```',
     [("get_product", {"product_id": "p_lantern"})]),
    ('{"name": "get_product", "arguments": {"product_id": "p_pack"}}', [("get_product", {"product_id": "p_pack"})]),
    ('<tools>\n{"name": "get_product", "arguments": {"product_id": "p_mat"}}\n</tools>',
     [("get_product", {"product_id": "p_mat"})]),
    ('{{"name": "get_product", "arguments": {"product_id": "p_tent2"}}}', [("get_product", {"product_id": "p_tent2"})]),
    ('{"name": "get_product", "arguments": {"product_id": "p_lantern"}}\n```json\n'
     '{"name": "get_product", "arguments": {"product_id": "p_socks"}}\n```',
     [("get_product", {"product_id": "p_lantern"}), ("get_product", {"product_id": "p_socks"})]),
    ('{"name": "get_product", "arguments": {"product_id": "p_poles"}},\n'
     '{"name": "get_product", "arguments": {"product_id": "p_mat"}}',
     [("get_product", {"product_id": "p_poles"}), ("get_product", {"product_id": "p_mat"})]),
    ('To find the user I will look them up by email.\n\n```json\n{"name": "find_user_by_email", "arguments": '
     '{"email": "tomas.lind@example.com"}}\n```\n\nThen I can cancel the order.',
     [("find_user_by_email", {"email": "tomas.lind@example.com"})]),
    ('<tool_call>\n{"name": "get_product", "arguments": {"product_id": "p_stove"}\n</tool_call>',
     [("get_product", {"product_id": "p_stove"})]),
    ('{"name": "calculate", "arguments": {"expression": "1+1"}', [("calculate", {"expression": "1+1"})]),
]


@pytest.mark.parametrize("text, calls", RECORDED)
def test_recorded_real_model_shapes_are_calls(text: str, calls: Calls) -> None:
    assert found(text) == calls


def test_prose_around_a_call_is_kept_as_the_reply_text() -> None:
    reading = parse_text_tool_calls(RECORDED[6][0], KNOWN)
    assert reading.text == "To find the user I will look them up by email.\n\nThen I can cancel the order."


@pytest.mark.parametrize("text, calls", [
    ('<|python_tag|>{"name": "calculate", "parameters": {"expression": "2+2"}}<|eom_id|>',
     [("calculate", {"expression": "2+2"})]),
    ('<|python_tag|>calculate.call(expression="2+2")', [("calculate", {"expression": "2+2"})]),
    ('[calculate(expression="1+1"), get_product(product_id="p_mat")]',
     [("calculate", {"expression": "1+1"}), ("get_product", {"product_id": "p_mat"})]),
    ('[TOOL_CALLS][{"name": "calculate", "arguments": {"expression": "3*3"}}]', [("calculate", {"expression": "3*3"})]),
    ('[TOOL_CALLS]calculate[ARGS]{"expression": "3*3"}', [("calculate", {"expression": "3*3"})]),
    ('<function=calculate>{"expression": "4/2"}</function>', [("calculate", {"expression": "4/2"})]),
    ('<function=calculate>\n<parameter=expression>\n4/2\n</parameter>\n</function>',
     [("calculate", {"expression": "4/2"})]),
    ('{"type": "function", "function": {"name": "calculate", "arguments": "{\\"expression\\": \\"5\\"}"}}',
     [("calculate", {"expression": "5"})]),
    ("{'name': 'calculate', 'arguments': {'expression': '6'}}", [("calculate", {"expression": "6"})]),
    ('{"name": "goodbye", "arguments": {}}', [("goodbye", {})]),
])
def test_the_common_families_are_calls(text: str, calls: Calls) -> None:
    assert found(text) == calls


@pytest.mark.parametrize("text", [
    '{"name": "Calculate", "arguments": {"expression": "1"}}',
    '{"name": "calculator", "arguments": {"expression": "1"}}',
    '```json\n{"name": "get_products", "arguments": {"product_id": "p"}}\n```',
    '{"name": "calculate", "arguments": {"expression": 1 +}}',
    "<tool_call>\n</tool_call>",
])
def test_look_alikes_unknown_names_and_broken_calls_are_not_calls_but_are_flagged(text: str) -> None:
    reading = parse_text_tool_calls(text, KNOWN)
    assert reading.calls == [] and reading.problem == "malformed_call" and reading.text == text
    assert reading.detail


def test_an_invented_tool_result_is_flagged_and_after_a_call_it_is_dropped() -> None:
    invented = parse_text_tool_calls('<tool_response>\n{"price": 24.99}\n</tool_response>\nIt costs 24.99.', KNOWN)
    assert invented.calls == [] and invented.problem == "invented_tool_result"
    call_first = parse_text_tool_calls('<tool_call>\n{"name": "get_product", "arguments": {"product_id": "p"}}\n'
                                       '</tool_call>\n<tool_response>\n{"price": 3}\n</tool_response>\nIt costs 3.',
                                       KNOWN)
    assert [c.name for c in call_first.calls] == ["get_product"] and call_first.text == ""


@pytest.mark.parametrize("text", [
    "The Glow Lantern costs 24.99.",
    'Here is the product: {"name": "Glow Lantern", "price": 24.99}.',
    '{"name": "Ada", "arguments": []}',
    "Use f(x) = {x | x > 0} and [1, 2, 3] as the set.",
    "You can call calculate(expression) yourself, e.g. in a notebook.",
    "",
])
def test_prose_and_ordinary_json_stay_prose(text: str) -> None:
    reading = parse_text_tool_calls(text, KNOWN)
    assert reading.calls == [] and reading.problem is None and reading.text == text


def test_a_long_reply_full_of_brackets_is_read_quickly() -> None:
    text = "{[" * 30_000 + '"x' + "}" * 1000
    assert parse_text_tool_calls(text, KNOWN).calls == []


# Property tests: calls in each form with random names and arguments come back exactly.

identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True).filter(lambda s: not keyword.iskeyword(s))
safe_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="<>`["), max_size=30)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**9, 10**9),
                    st.floats(allow_nan=False, allow_infinity=False), safe_text)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(safe_text, inner, max_size=3)), max_leaves=8)
arguments = st.dictionaries(identifiers, values, max_size=4)
call_lists = st.lists(st.tuples(identifiers, arguments), min_size=1, max_size=3)

FORMS: dict[str, Callable[[Calls], str]] = {
    "hermes": lambda cs: "\n".join(f"<tool_call>\n{as_json(n, a)}\n</tool_call>" for n, a in cs),
    "hermes_unclosed": lambda cs: "<tool_call>\n" + "\n".join(as_json(n, a) for n, a in cs),
    "fence_each": lambda cs: "\n\n".join(f"```json\n{as_json(n, a)}\n```" for n, a in cs),
    "fence_all": lambda cs: "```json\n" + "\n".join(as_json(n, a) for n, a in cs) + "\n```",
    "fence_in_prose": lambda cs: "I will check that.\n```json\n" + "\n".join(as_json(n, a) for n, a in cs)
                                 + "\n```\nThen I answer.",
    "bare_lines": lambda cs: "\n".join(as_json(n, a) for n, a in cs),
    "bare_commas": lambda cs: ",\n".join(as_json(n, a) for n, a in cs),
    "array": lambda cs: json.dumps([{"name": n, "arguments": a} for n, a in cs], ensure_ascii=False),
    "tools_wrapper": lambda cs: "<tools>\n" + "\n".join(as_json(n, a) for n, a in cs) + "\n</tools>",
    "doubled_braces": lambda cs: "\n".join("{" + as_json(n, a) + "}" for n, a in cs),
    "llama_parameters": lambda cs: "<|python_tag|>" + "; ".join(as_json(n, a, "parameters") for n, a in cs),
    "llama_bare_parameters": lambda cs: "\n".join(as_json(n, a, "parameters") for n, a in cs),
    "pythonic": lambda cs: "[" + ", ".join(f"{n}(" + ", ".join(f"{k}={v!r}" for k, v in a.items()) + ")"
                                           for n, a in cs) + "]",
    "mistral": lambda cs: "[TOOL_CALLS]" + json.dumps([{"name": n, "arguments": a} for n, a in cs]),
    "mistral_args": lambda cs: "".join(f"[TOOL_CALLS]{n}[ARGS]{json.dumps(a)}" for n, a in cs),
    "function_tag": lambda cs: "".join(f"<function={n}>{json.dumps(a)}</function>" for n, a in cs),
}


@settings(max_examples=60, deadline=None)
@given(calls=call_lists, extra=st.lists(identifiers, max_size=3), form=st.sampled_from(sorted(FORMS)))
def test_calls_in_every_form_are_recovered_exactly(calls: Calls, extra: list[str], form: str) -> None:
    known = [n for n, _ in calls] + extra
    assert found(FORMS[form](calls), known) == calls


@settings(max_examples=60, deadline=None)
@given(calls=call_lists, form=st.sampled_from(sorted(FORMS)))
def test_calls_to_tools_the_run_does_not_offer_are_never_taken(calls: Calls, form: str) -> None:
    offered = [n + "_x" for n, _ in calls] + [n.upper() for n, _ in calls]
    assert found(FORMS[form](calls), offered) == []


@settings(max_examples=150, deadline=None)
@given(text=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="<`"), max_size=200),
       names=st.lists(identifiers, min_size=1, max_size=3))
def test_random_prose_is_never_a_call_and_comes_back_unchanged(text: str, names: list[str]) -> None:
    reading = parse_text_tool_calls(text, names)
    assert reading.calls == [] and reading.text == text
