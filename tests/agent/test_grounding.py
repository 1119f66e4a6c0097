"""Ids the model has read, and call schemas (also held to the tools that need no id, or beside an answer)."""

from __future__ import annotations

from typing import Any

from sidekick.agent.grounding import call_schema, decision_schema, shows_an_id, unseen_ids

S = {"type": "string"}
GET_ORDER = {"name": "get_order", "inputSchema": {"type": "object", "properties": {"order_id": S}, "required": ["order_id"]}}
FIND_USER = {"name": "find_user", "inputSchema": {"type": "object", "properties": {"email": S}, "required": ["email"]}}
PLACE = {"name": "place_order", "inputSchema": {"type": "object", "required": ["user_id", "items"], "properties": {
    "user_id": S, "note": S, "items": {"type": "array", "items": {"type": "object", "required": ["productId"],
                                                                  "properties": {"productId": S, "quantity": {"type": "integer"}}}}}}}


def arguments_of(schema: dict[str, Any], name: str) -> dict[str, Any]:
    options = schema.get("anyOf", [schema])
    return next(o["properties"]["arguments"] for o in options if o["properties"]["name"]["const"] == name)


def test_an_id_shown_is_an_id_like_token() -> None:
    for text in ["I'm user u_sofia.", "Is order o_1003 shipped?", '{"id": "7f3a-9c"}', "code SUMMER20",
                 "order number 12345", "zip 60614"]:
        assert shows_an_id([text]), text
    for text in ["plain words for an outdoor-gear shop, sofia.brandt@example.com", "within 30 days of delivery",
                 "it costs 62.25 (a 10% discount)", "call return_order to return it"]:
        assert not shows_an_id([text], besides=["return_order"]), text


def test_unseen_ids_are_id_arguments_the_model_never_read() -> None:
    seen = "user u_7 has orders o_1 and o_2".__str__
    assert unseen_ids({"user_id": "u_7", "order_ids": ["o_1", "o_9"], "note": "zz_1"}, seen) == [("order_ids", "o_9")]


def test_a_call_schema_offers_each_tool_with_its_arguments() -> None:
    schema = call_schema([GET_ORDER, FIND_USER])
    assert arguments_of(schema, "get_order") == GET_ORDER["inputSchema"]
    assert arguments_of(schema, "find_user") == FIND_USER["inputSchema"]
    assert arguments_of(call_schema([GET_ORDER]), "get_order") == GET_ORDER["inputSchema"]  # one tool: no anyOf


def test_held_to_tools_needing_no_id_leaves_out_those_requiring_one() -> None:
    assert call_schema([GET_ORDER, FIND_USER, PLACE], needing_no_id=True) == {
        "type": "object", "properties": {"name": {"const": "find_user"}, "arguments": FIND_USER["inputSchema"]},
        "required": ["name", "arguments"]}
    assert call_schema([GET_ORDER, PLACE], needing_no_id=True) is None
    in_items = {"name": "quote", "inputSchema": {"type": "object", "required": ["items"], "properties": {
        "items": PLACE["inputSchema"]["properties"]["items"]}}}
    optional = {"name": "list_orders", "inputSchema": {"type": "object", "properties": {"user_id": S}}}
    assert call_schema([in_items, optional], needing_no_id=True)["properties"]["name"] == {"const": "list_orders"}


def test_a_decision_is_an_answer_one_call_or_a_list_of_calls() -> None:
    call = call_schema([GET_ORDER, FIND_USER])
    answer, one, several = decision_schema(call)["anyOf"]
    assert answer == {"type": "object", "properties": {"answer": S}, "required": ["answer"],
                      "additionalProperties": False}
    assert one == call and several == {"type": "array", "items": call, "minItems": 1}
    assert decision_schema(None) == answer  # no tool to call: only the answer is left
