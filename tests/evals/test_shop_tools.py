"""The shop's tools: reads, writes, refusals, argument checks and injected faults."""

from __future__ import annotations

import json

from sidekick.evals.shop import ShopSuite
from sidekick.evals.shop.tools import ShopEnvironment

SHOP = ShopSuite()


def test_every_tool_has_a_strict_json_schema() -> None:
    specs = SHOP.tool_specs(SHOP.tasks()[0])
    assert len(specs) == 12
    for spec in specs:
        schema = spec["inputSchema"]
        assert spec["description"] and schema["type"] == "object" and schema["additionalProperties"] is False
        assert set(schema["required"]) <= set(schema["properties"])


def test_place_order_charges_credit_takes_stock_and_numbers_orders() -> None:
    env = ShopEnvironment()
    result = env.call("place_order", {"user_id": "u_priya", "items": [{"product_id": "p_filter", "quantity": 2}],
                                      "promo_code": "trail10"})
    order = json.loads(result.text)
    assert not result.is_error and order["id"] == "o_1100" and order["total"] == 62.55
    assert order["credit_balance"] == 237.45 and env.db["products"]["p_filter"]["stock"] == 0
    again = env.call("place_order", {"user_id": "u_priya", "items": [{"product_id": "p_filter", "quantity": 1}]})
    assert again.is_error and "out of stock" in again.text


def test_a_null_optional_argument_counts_as_absent() -> None:
    result = ShopEnvironment().call("place_order", {"user_id": "u_mira", "promo_code": None,
                                                    "items": [{"product_id": "p_socks", "quantity": 1}]})
    assert not result.is_error and json.loads(result.text)["promo_code"] is None


def test_refusals_explain_themselves_and_change_nothing() -> None:
    env = ShopEnvironment()
    before = json.dumps(env.db, sort_keys=True)
    cases = [("cancel_order", {"order_id": "o_1003", "reason": "no longer needed"}, "only pending"),
             ("cancel_order", {"order_id": "o_1004", "reason": "bored"}, "reason must be one of"),
             ("return_order", {"order_id": "o_1002", "reason": "damaged"}, "only delivered"),
             ("place_order", {"user_id": "u_jonah", "items": [{"product_id": "p_tent2", "quantity": 1}]},
              "exceeds the store credit"),
             ("place_order", {"user_id": "u_mira", "items": [{"product_id": "p_mat", "quantity": 1}],
                              "promo_code": "SUMMER20"}, "inactive"),
             ("change_item_quantity", {"order_id": "o_1004", "product_id": "p_mat", "quantity": 2}, "not in order"),
             ("get_order", {"order_id": "o_9"}, "no order"),
             ("get_order", {}, "missing order_id"),
             ("get_order", {"order_id": "o_1001", "verbose": True}, "unexpected verbose"),
             ("change_item_quantity", {"order_id": "o_1004", "product_id": "p_socks", "quantity": "2"},
              "quantity must be of type integer"),
             ("teleport", {}, "unknown tool")]
    for name, arguments, expected in cases:
        result = env.call(name, arguments)
        assert result.is_error and expected in result.text, (name, result.text)
    assert json.dumps(env.db, sort_keys=True) == before


def test_cancel_refunds_and_restocks_and_quantity_changes_rebill() -> None:
    env = ShopEnvironment()
    env.call("cancel_order", {"order_id": "o_1004", "reason": "no longer needed"})
    assert env.db["users"]["u_tomas"]["credit"] == 94.0 and env.db["products"]["p_socks"]["stock"] == 27
    changed = json.loads(env.call("change_item_quantity", {"order_id": "o_1008", "product_id": "p_lantern",
                                                           "quantity": 1}).text)
    assert changed["total"] == 24.99 and changed["credit_balance"] == 259.98


def test_faults_fail_the_first_calls_then_pass() -> None:
    env = ShopEnvironment({"search_products": 2})
    results = [env.call("search_products", {"query": "stove"}) for _ in range(3)]
    assert [r.is_error for r in results] == [True, True, False]
    assert "temporarily unavailable" in results[0].text and "p_stove" in results[2].text


def test_each_trial_gets_its_own_database() -> None:
    first, second = ShopEnvironment(), ShopEnvironment()
    first.call("update_user_address", {"user_id": "u_mira", "street": "1 A St", "city": "B", "zip": "1"})
    assert second.db["users"]["u_mira"]["address"]["street"] == "12 Alder Lane"
