"""Ids the model has read, and call schemas held to them."""

from __future__ import annotations

from typing import Any

from sidekick.agent.grounding import MAX_KNOWN_IDS, call_schema, known_ids, unseen_ids

S = {"type": "string"}
GET_ORDER = {"name": "get_order", "inputSchema": {"type": "object", "properties": {"order_id": S}, "required": ["order_id"]}}
FIND_USER = {"name": "find_user", "inputSchema": {"type": "object", "properties": {"email": S}, "required": ["email"]}}
PLACE = {"name": "place_order", "inputSchema": {"type": "object", "required": ["user_id", "items"], "properties": {
    "user_id": S, "note": S, "items": {"type": "array", "items": {"type": "object", "required": ["productId"],
                                                                  "properties": {"productId": S, "quantity": {"type": "integer"}}}}}}}


def arguments_of(schema: dict[str, Any], name: str) -> dict[str, Any]:
    options = schema.get("anyOf", [schema])
    return next(o["properties"]["arguments"] for o in options if o["properties"]["name"]["const"] == name)


def test_known_ids_are_the_id_like_tokens_first_seen_first() -> None:
    texts = ["I'm sofia.brandt@example.com, user u_sofia. Is order o_1003 shipped?",
             '{"id": "7f3a-9c", "orders": ["o_1003", "o_1010"], "zip": "60614", "promo": "SUMMER20"}']
    assert known_ids(texts) == ["u_sofia", "o_1003", "7f3a-9c", "o_1010", "60614", "SUMMER20"]
    assert known_ids(["plain words for an outdoor-gear shop, sofia.brandt@example.com"]) == []
    assert len(known_ids([" ".join(f"id_{n}" for n in range(MAX_KNOWN_IDS + 50))])) == MAX_KNOWN_IDS


def test_unseen_ids_are_id_arguments_the_model_never_read() -> None:
    seen = "user u_7 has orders o_1 and o_2".__str__
    assert unseen_ids({"user_id": "u_7", "order_ids": ["o_1", "o_9"], "note": "zz_1"}, seen) == [("order_ids", "o_9")]


def test_a_call_schema_holds_every_id_argument_to_the_known_ids() -> None:
    schema = call_schema([GET_ORDER, FIND_USER, PLACE], ["u_1", "p_2"])
    assert arguments_of(schema, "get_order")["properties"]["order_id"]["enum"] == ["u_1", "p_2"]
    assert arguments_of(schema, "find_user") == FIND_USER["inputSchema"]
    placed = arguments_of(schema, "place_order")
    assert placed["properties"]["user_id"]["enum"] == ["u_1", "p_2"] and "enum" not in placed["properties"]["note"]
    assert placed["properties"]["items"]["items"]["properties"]["productId"]["enum"] == ["u_1", "p_2"]
    assert "enum" not in PLACE["inputSchema"]["properties"]["user_id"]  # the specs are left as they were


def test_with_no_known_ids_only_tools_needing_none_are_left() -> None:
    assert call_schema([GET_ORDER, FIND_USER, PLACE], []) == {
        "type": "object", "properties": {"name": {"const": "find_user"}, "arguments": FIND_USER["inputSchema"]},
        "required": ["name", "arguments"]}
    assert call_schema([GET_ORDER, PLACE], []) is None
    assert arguments_of(call_schema([GET_ORDER]), "get_order") == GET_ORDER["inputSchema"]  # no ids: not held
