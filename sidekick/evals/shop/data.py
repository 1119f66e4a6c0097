"""The shop's starting database and its policy. Invented for this suite: every name and number is made up."""

from __future__ import annotations

import copy
from typing import Any

POLICY = """You are the customer-support agent of Larch & Ledge, an outdoor-gear shop. You act for the \
customer through the shop's tools.

Policy:
- Identify the customer before changing their account: by email, or by full name and zip code. A user id \
(u_...) given in the request identifies the customer too.
- Orders are paid from the customer's store credit. Refunds go back to store credit.
- Only pending orders can be cancelled, have their shipping address changed or item quantities changed.
- Only delivered orders can be returned, within 30 days of delivery (the return_order tool enforces the window).
- A promo code gives its percentage off the order total; an inactive code cannot be used.
- The customer's request is their confirmation: do not ask them to confirm, carry it out.
- When the request only asks for information, change nothing.
- Finish with a short answer to the customer that states the facts they asked for."""

ADDRESS_KEYS = ("street", "city", "zip")


def _user(uid: str, name: str, email: str, street: str, city: str, zip_: str, credit: float,
          orders: list[str]) -> dict[str, Any]:
    return {"id": uid, "name": name, "email": email, "address": {"street": street, "city": city, "zip": zip_},
            "credit": credit, "orders": orders}


def _product(pid: str, name: str, price: float, stock: int, category: str) -> dict[str, Any]:
    return {"id": pid, "name": name, "price": price, "stock": stock, "category": category}


_USERS = [
    _user("u_mira", "Mira Okafor", "mira.okafor@example.com", "12 Alder Lane", "Boulder", "80302", 120.0,
          ["o_1001", "o_1002"]),
    _user("u_tomas", "Tomas Lind", "tomas.lind@example.com", "3 Quay Street", "Duluth", "55802", 45.5,
          ["o_1003", "o_1004"]),
    _user("u_priya", "Priya Raman", "priya.raman@example.com", "88 Cedar Court", "Austin", "78701", 300.0,
          ["o_1005"]),
    _user("u_jonah", "Jonah Weiss", "jonah.weiss@example.com", "41 Fir Road", "Chicago", "60614", 62.25, []),
    _user("u_elena", "Elena Duarte", "elena.duarte@example.com", "7 Vine Place", "Oakland", "94607", 210.0,
          ["o_1006", "o_1007", "o_1008"]),
    _user("u_kenji", "Kenji Mori", "kenji.mori@example.com", "19 Maple Row", "Portland", "97205", 500.0,
          ["o_1009"]),
    _user("u_sofia", "Sofia Brandt", "sofia.brandt@example.com", "2 Birch Hill", "Madison", "53703", 80.0,
          ["o_1010", "o_1011"]),
    _user("u_omar", "Omar Haddad", "omar.haddad@example.com", "55 Aspen Way", "Denver", "80205", 150.0,
          ["o_1012", "o_1013"]),
]

_PRODUCTS = [
    _product("p_tent2", "Trailhead 2-Person Tent", 189.0, 4, "tents"),
    _product("p_tent4", "Basecamp 4-Person Tent", 329.0, 0, "tents"),
    _product("p_bag_blue", "Summit Sleeping Bag (blue)", 89.5, 0, "sleeping"),
    _product("p_bag_green", "Summit Sleeping Bag (green)", 89.5, 6, "sleeping"),
    _product("p_mat", "Cloud Sleeping Mat", 59.0, 7, "sleeping"),
    _product("p_stove", "Ember Camp Stove", 45.0, 10, "cooking"),
    _product("p_lantern", "Glow Lantern", 24.99, 15, "lighting"),
    _product("p_bottle", "Canyon Water Bottle", 12.5, 40, "water"),
    _product("p_filter", "ClearFlow Water Filter", 34.75, 2, "water"),
    _product("p_pack", "Ridge 40L Backpack", 129.0, 13, "packs"),
    _product("p_socks", "Merino Hiking Socks", 18.0, 25, "clothing"),
    _product("p_poles", "Trek Poles (pair)", 74.0, 5, "hiking"),
]

_ORDERS = [
    ("o_1001", "u_mira", "delivered", [("p_lantern", 1), ("p_bottle", 2)]),
    ("o_1002", "u_mira", "pending", [("p_stove", 1)]),
    ("o_1003", "u_tomas", "shipped", [("p_pack", 1)]),
    ("o_1004", "u_tomas", "pending", [("p_socks", 2), ("p_bottle", 1)]),
    ("o_1005", "u_priya", "pending", [("p_bottle", 1), ("p_lantern", 1)]),
    ("o_1006", "u_elena", "delivered", [("p_mat", 2), ("p_stove", 1)]),
    ("o_1007", "u_elena", "pending", [("p_poles", 1)]),
    ("o_1008", "u_elena", "pending", [("p_lantern", 3)]),
    ("o_1009", "u_kenji", "delivered", [("p_socks", 3), ("p_filter", 1)]),
    ("o_1010", "u_sofia", "cancelled", [("p_tent2", 1)]),
    ("o_1011", "u_sofia", "delivered", [("p_poles", 1), ("p_socks", 1)]),
    ("o_1012", "u_omar", "pending", [("p_mat", 1)]),
    ("o_1013", "u_omar", "pending", [("p_bottle", 2)]),
]


def _build() -> dict[str, Any]:
    users = {u["id"]: u for u in _USERS}
    products = {p["id"]: p for p in _PRODUCTS}
    orders = {}
    for oid, uid, status, lines in _ORDERS:
        items = [{"product_id": pid, "name": products[pid]["name"], "quantity": qty,
                  "unit_price": products[pid]["price"]} for pid, qty in lines]
        total = round(sum(i["quantity"] * i["unit_price"] for i in items), 2)
        orders[oid] = {"id": oid, "user_id": uid, "status": status, "items": items, "total": total,
                       "ship_to": dict(users[uid]["address"]), "promo_code": None}
    return {"users": users, "products": products, "orders": orders,
            "promo_codes": {"TRAIL10": {"percent": 10, "active": True},
                            "SUMMER20": {"percent": 20, "active": False}},
            "next_order_number": 1100}


_INITIAL = _build()


def initial_database() -> dict[str, Any]:
    """A fresh deep copy of the starting database; every trial gets its own."""
    return copy.deepcopy(_INITIAL)
