"""The shop's tools and the per-trial environment that runs them against its own database copy."""

from __future__ import annotations

from typing import Any

from sidekick.evals.domain import DomainEnvironment, DomainTool, ToolError
from sidekick.evals.shop.data import ADDRESS_KEYS, initial_database

CANCEL_REASONS = ["no longer needed", "ordered by mistake"]
RETURN_REASONS = ["damaged", "wrong item", "no longer needed"]
TYPES = {"string": str, "integer": int, "array": list, "object": dict}


class ShopTool(DomainTool):
    def check(self, arguments: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(arguments) - set(self.properties))
        missing = [key for key in self.required if key not in arguments]
        if unknown or missing:
            raise ToolError(f"invalid arguments for {self.name}: " + "; ".join(
                part for part in (f"missing {', '.join(missing)}" if missing else "",
                                  f"unexpected {', '.join(unknown)}" if unknown else "") if part))
        for key, value in arguments.items():
            if value is None and key not in self.required:  # models often send null for an unused option
                continue
            expected = TYPES.get(self.properties[key].get("type"))
            if expected and not (isinstance(value, expected) and not isinstance(value, bool)):
                kind = self.properties[key]["type"]
                raise ToolError(f"invalid arguments for {self.name}: {key} must be of type {kind}")
        return arguments


def _find(table: dict[str, Any], key: str, kind: str) -> dict[str, Any]:
    if key not in table:
        raise ToolError(f"no {kind} with id {key!r}")
    return table[key]


def _pending(db: dict[str, Any], order_id: str, action: str) -> dict[str, Any]:
    order = _find(db["orders"], order_id, "order")
    if order["status"] != "pending":
        raise ToolError(f"order {order_id} is {order['status']}; only pending orders can be {action}")
    return order


def _with_credit(db: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    return {**order, "credit_balance": db["users"][order["user_id"]]["credit"]}


def find_user_by_email(db: dict[str, Any], a: dict[str, Any]) -> Any:
    for user in db["users"].values():
        if user["email"] == a["email"].strip().lower():
            return user
    raise ToolError(f"no user with email {a['email']!r}; try find_user_by_name with the full name and zip")


def find_user_by_name(db: dict[str, Any], a: dict[str, Any]) -> Any:
    for user in db["users"].values():
        if user["name"].lower() == a["name"].strip().lower() and user["address"]["zip"] == a["zip"].strip():
            return user
    raise ToolError(f"no user named {a['name']!r} with zip {a['zip']!r}")


def search_products(db: dict[str, Any], a: dict[str, Any]) -> Any:
    words = a["query"].lower().split()
    found = [{k: p[k] for k in ("id", "name", "price", "stock")} for p in db["products"].values()
             if all(w in f"{p['name']} {p['category']}".lower() for w in words)]
    return found or f"no products match {a['query']!r}"


def place_order(db: dict[str, Any], a: dict[str, Any]) -> Any:
    user = _find(db["users"], a["user_id"], "user")
    if not a["items"]:
        raise ToolError("an order needs at least one item")
    lines = []
    for item in a["items"]:
        if not isinstance(item, dict) or not isinstance(item.get("product_id"), str) \
                or not isinstance(item.get("quantity"), int) or item["quantity"] < 1:
            raise ToolError("each item needs a product_id (string) and a quantity (integer ≥ 1)")
        product = _find(db["products"], item["product_id"], "product")
        if product["stock"] < item["quantity"]:
            left = f"only {product['stock']} in stock" if product["stock"] else "out of stock"
            raise ToolError(f"cannot order {item['quantity']} × {product['id']} ({product['name']}): {left}")
        lines.append({"product_id": product["id"], "name": product["name"], "quantity": item["quantity"],
                      "unit_price": product["price"]})
    percent = 0
    if a.get("promo_code"):
        promo = db["promo_codes"].get(a["promo_code"].strip().upper())
        if promo is None or not promo["active"]:
            raise ToolError(f"promo code {a['promo_code']!r} is {'inactive' if promo else 'unknown'}")
        percent = promo["percent"]
    total = round(sum(line["quantity"] * line["unit_price"] for line in lines) * (100 - percent) / 100, 2)
    if total > user["credit"]:
        raise ToolError(f"the total {total:.2f} exceeds the store credit {user['credit']:.2f}")
    for line in lines:
        db["products"][line["product_id"]]["stock"] -= line["quantity"]
    order_id = f"o_{db['next_order_number']}"
    db["next_order_number"] += 1
    user["credit"] = round(user["credit"] - total, 2)
    user["orders"].append(order_id)
    db["orders"][order_id] = {"id": order_id, "user_id": user["id"], "status": "pending", "items": lines,
                              "total": total, "ship_to": dict(user["address"]),
                              "promo_code": a["promo_code"].strip().upper() if percent else None}
    return _with_credit(db, db["orders"][order_id])


def cancel_order(db: dict[str, Any], a: dict[str, Any]) -> Any:
    if a["reason"] not in CANCEL_REASONS:
        raise ToolError(f"reason must be one of {CANCEL_REASONS}")
    order = _pending(db, a["order_id"], "cancelled")
    for line in order["items"]:
        db["products"][line["product_id"]]["stock"] += line["quantity"]
    order.update(status="cancelled", cancel_reason=a["reason"])
    user = db["users"][order["user_id"]]
    user["credit"] = round(user["credit"] + order["total"], 2)
    return _with_credit(db, order)


def return_order(db: dict[str, Any], a: dict[str, Any]) -> Any:
    if a["reason"] not in RETURN_REASONS:
        raise ToolError(f"reason must be one of {RETURN_REASONS}")
    order = _find(db["orders"], a["order_id"], "order")
    if order["status"] != "delivered":
        raise ToolError(f"order {order['id']} is {order['status']}; only delivered orders can be returned")
    order.update(status="return_requested", return_reason=a["reason"])
    user = db["users"][order["user_id"]]
    user["credit"] = round(user["credit"] + order["total"], 2)
    return _with_credit(db, order)


def change_item_quantity(db: dict[str, Any], a: dict[str, Any]) -> Any:
    order = _pending(db, a["order_id"], "changed")
    line = next((i for i in order["items"] if i["product_id"] == a["product_id"]), None)
    if line is None:
        have = ", ".join(f"{i['product_id']} ({i['name']})" for i in order["items"])
        raise ToolError(f"{a['product_id']!r} is not in order {order['id']}; its items: {have}")
    if a["quantity"] < 1:
        raise ToolError("quantity must be at least 1 (cancel the order to remove everything)")
    delta = a["quantity"] - line["quantity"]
    product, user = db["products"][line["product_id"]], db["users"][order["user_id"]]
    if delta > product["stock"]:
        raise ToolError(f"only {product['stock']} more {product['name']} in stock")
    percent = db["promo_codes"][order["promo_code"]]["percent"] if order["promo_code"] else 0
    line["quantity"] = a["quantity"]
    total = round(sum(i["quantity"] * i["unit_price"] for i in order["items"]) * (100 - percent) / 100, 2)
    if total - order["total"] > user["credit"]:
        line["quantity"] -= delta
        raise ToolError(f"the new total {total:.2f} needs more store credit than the {user['credit']:.2f} left")
    product["stock"] -= delta
    user["credit"] = round(user["credit"] - (total - order["total"]), 2)
    order["total"] = total
    return _with_credit(db, order)


def _address(a: dict[str, Any]) -> dict[str, str]:
    return {key: a[key].strip() for key in ADDRESS_KEYS}


def update_order_address(db: dict[str, Any], a: dict[str, Any]) -> Any:
    order = _pending(db, a["order_id"], "changed")
    order["ship_to"] = _address(a)
    return order


def update_user_address(db: dict[str, Any], a: dict[str, Any]) -> Any:
    user = _find(db["users"], a["user_id"], "user")
    user["address"] = _address(a)
    return user


S = {"type": "string"}
ADDRESS = {"street": S, "city": S, "zip": S}
ITEMS = {"type": "array", "items": {"type": "object", "properties": {"product_id": S, "quantity": {
    "type": "integer", "minimum": 1}}, "required": ["product_id", "quantity"]}}

TOOLS = {t.name: t for t in [
    ShopTool("find_user_by_email", "Find a customer by email. Returns the user with address, store credit and "
             "order ids.", {"email": S}, ("email",), find_user_by_email),
    ShopTool("find_user_by_name", "Find a customer by full name and zip code.", {"name": S, "zip": S},
             ("name", "zip"), find_user_by_name),
    ShopTool("get_user", "Get a customer by user id (u_...).", {"user_id": S}, ("user_id",),
             lambda db, a: _find(db["users"], a["user_id"], "user")),
    ShopTool("get_order", "Get an order by id (o_...): status, items, total, shipping address.",
             {"order_id": S}, ("order_id",), lambda db, a: _find(db["orders"], a["order_id"], "order")),
    ShopTool("get_product", "Get a product by id (p_...): name, price, stock.", {"product_id": S},
             ("product_id",), lambda db, a: _find(db["products"], a["product_id"], "product")),
    ShopTool("search_products", "Search products by words in their name or category.", {"query": S},
             ("query",), search_products),
    ShopTool("place_order", "Place an order for a customer, paid from their store credit. Ships to the "
             "customer's address.", {"user_id": S, "items": ITEMS, "promo_code": S}, ("user_id", "items"),
             place_order),
    ShopTool("cancel_order", "Cancel a pending order; the total is refunded to store credit.",
             {"order_id": S, "reason": {"type": "string", "enum": CANCEL_REASONS}}, ("order_id", "reason"),
             cancel_order),
    ShopTool("return_order", "Return a delivered order; the total is refunded to store credit.",
             {"order_id": S, "reason": {"type": "string", "enum": RETURN_REASONS}}, ("order_id", "reason"),
             return_order),
    ShopTool("change_item_quantity", "Set the quantity of a product already in a pending order.",
             {"order_id": S, "product_id": S, "quantity": {"type": "integer", "minimum": 1}},
             ("order_id", "product_id", "quantity"), change_item_quantity),
    ShopTool("update_order_address", "Change the shipping address of a pending order.",
             {"order_id": S, **ADDRESS}, ("order_id", *ADDRESS), update_order_address),
    ShopTool("update_user_address", "Change the address on a customer's account (not on existing orders).",
             {"user_id": S, **ADDRESS}, ("user_id", *ADDRESS), update_user_address),
]}


class ShopEnvironment(DomainEnvironment):
    """One trial's shop: a private database copy, plus the transient faults its task injects."""

    tools = TOOLS
    fault_text = "Error: the {name} service is temporarily unavailable (503). Please try again."

    def initial_database(self) -> dict[str, Any]:
        return initial_database()
