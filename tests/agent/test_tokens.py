"""The token estimate: digits one each, code and punctuation dense, prose about a token a word, never zero."""

from __future__ import annotations

import json

from sidekick.agent.tokens import (MESSAGE_OVERHEAD, TOOLS_OVERHEAD, estimate_tokens, message_tokens,
                                   tools_tokens)

# Token counts from Qwen2.5's tokenizer (llama.cpp /tokenize) for these exact strings.
MEASURED = {
    "| P-10276 | 2024-12-15 | 39 | 686.29 | 26765.31 |\n": 43,
    "2,-76.52074,119.04393,6.6,986.8\n": 31,
    "Buffers:           27596 kB\n": 11,
}


def test_digit_heavy_text_costs_about_a_token_per_character_and_never_less_than_measured() -> None:
    for text, real in MEASURED.items():
        assert real <= estimate_tokens(text) <= real * 1.25, (text, estimate_tokens(text))
    table = "".join(MEASURED) * 50
    assert estimate_tokens(table) > len(table) * 0.8  # chars/4 would be off by 4x


def test_prose_costs_about_a_token_a_word() -> None:
    prose = ("The sidekick reads every tool result before it picks the next step, so a task that needs "
             "two lookups and a calculation is done in three short turns instead of one long guess. ") * 20
    words = len(prose.split())
    assert words <= estimate_tokens(prose) <= words * 1.4


def test_code_and_json_cost_more_than_a_quarter_of_their_characters_per_token() -> None:
    code = "def fit(messages, budget):\n    total = sum(size(m) for m in messages)\n    return total <= budget\n"
    data = json.dumps({"order_id": "o_4711", "items": [{"sku": "P-10276", "quantity": 2}], "total": 129.9})
    for text in (code, data):
        assert estimate_tokens(text) >= len(text) / 4


def test_non_ascii_text_is_not_underestimated() -> None:
    assert estimate_tokens("订单已发货，预计三天内送达。") >= 14
    assert estimate_tokens("Заказ отправлен в понедельник.") >= 8
    assert estimate_tokens("🚀🚀") >= 4


def test_messages_carry_their_overhead_and_tool_calls() -> None:
    assert estimate_tokens("") == 0 and message_tokens({"role": "assistant", "content": None}) == MESSAGE_OVERHEAD
    call = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "calculate", "arguments": '{"expression": "2+2"}'}}]}
    assert message_tokens(call) > MESSAGE_OVERHEAD + estimate_tokens('{"expression": "2+2"}')
    parts = {"role": "user", "content": [{"type": "text", "text": "hello there"},
                                         {"type": "image_url", "image_url": {"url": "data:..."}}]}
    assert message_tokens(parts) >= 1000
    odd = {"role": "assistant", "content": 42, "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]}
    assert message_tokens(odd) > MESSAGE_OVERHEAD


def test_tool_specs_cost_their_json_plus_the_template_s_instructions() -> None:
    spec = {"name": "calculate", "description": "Evaluate arithmetic.",
            "inputSchema": {"type": "object", "properties": {"expression": {"type": "string"}}}}
    assert tools_tokens([]) == 0
    assert tools_tokens([spec]) > TOOLS_OVERHEAD + 20
    assert tools_tokens([spec, {**spec, "name": "other"}]) > tools_tokens([spec]) + 20
