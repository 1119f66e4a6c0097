"""The shop suite's tasks. Each lists its gold trajectory turn by turn; calls in one turn are independent."""

from __future__ import annotations

from sidekick.evals.domain import c, task


def _address(**where: str) -> dict[str, str]:
    return where


ELENA_NEW = _address(street="9 Mission Street", city="Oakland", zip="94612")

TASKS = [
    # One step.
    task("single-price", "single", "What does the Glow Lantern (product p_lantern) cost?",
         c("get_product", product_id="p_lantern"), outputs=("24.99",)),
    task("single-stock", "single", "How many Ridge 40L Backpacks (product p_pack) do you have in stock?",
         c("get_product", product_id="p_pack"), outputs=("13",)),
    task("single-cancel", "single", "I'm user u_mira. Please cancel my order o_1002, I ordered it by mistake. "
         "What is my store credit now?", c("cancel_order", order_id="o_1002", reason="ordered by mistake"),
         outputs=("165",)),
    task("single-status", "single", "What's the status of order o_1003?", c("get_order", order_id="o_1003"),
         outputs=("shipped",)),
    task("single-ship-to", "single", "I'm user u_tomas. Ship my pending order o_1004 to 77 Harbor Road, "
         "Duluth, 55806 instead.", c("update_order_address", order_id="o_1004", street="77 Harbor Road",
                                     city="Duluth", zip="55806")),
    task("single-quantity", "single", "I'm user u_priya. In my order o_1005, make it 3 Canyon Water Bottles "
         "(p_bottle) instead of 1. What is the new order total?",
         c("change_item_quantity", order_id="o_1005", product_id="p_bottle", quantity=3), outputs=("62.49",)),
    task("single-return", "single", "I'm user u_kenji. Please return my delivered order o_1009: the filter "
         "arrived damaged. How much store credit do I have after the refund?",
         c("return_order", order_id="o_1009", reason="damaged"), outputs=("588.75",)),
    # Many dependent steps.
    task("multi-cancel-pending", "multi", "I'm tomas.lind@example.com. Cancel my pending order, I no longer "
         "need it, and tell me my store credit afterwards.",
         c("find_user_by_email", email="tomas.lind@example.com"),
         [c("get_order", order_id="o_1003"), c("get_order", order_id="o_1004")],
         c("cancel_order", order_id="o_1004", reason="no longer needed"), outputs=("94",)),
    task("multi-search-order", "multi", "Find the lantern you sell and order 2 of them for user u_priya. "
         "Tell me the new order's id and total.", c("search_products", query="lantern"),
         c("place_order", user_id="u_priya", items=[{"product_id": "p_lantern", "quantity": 2}]),
         outputs=("o_1100", "49.98")),
    task("multi-move-account", "multi", "I'm Jonah Weiss, zip 60614. Change the address on my account to "
         "5 Lake Shore Drive, Chicago, 60611.", c("find_user_by_name", name="Jonah Weiss", zip="60614"),
         c("update_user_address", user_id="u_jonah", street="5 Lake Shore Drive", city="Chicago", zip="60611")),
    task("multi-move-everything", "multi", "I'm elena.duarte@example.com and I moved to 9 Mission Street, "
         "Oakland, 94612. Update my account address and the shipping address of every one of my pending "
         "orders.", c("find_user_by_email", email="elena.duarte@example.com"),
         [c("get_order", order_id=o) for o in ("o_1006", "o_1007", "o_1008")],
         [c("update_user_address", user_id="u_elena", **ELENA_NEW),
          c("update_order_address", order_id="o_1007", **ELENA_NEW),
          c("update_order_address", order_id="o_1008", **ELENA_NEW)]),
    task("multi-reorder", "multi", "I'm user u_kenji. Reorder everything from my delivered order o_1009, "
         "same products and quantities, and tell me the total.", c("get_order", order_id="o_1009"),
         c("place_order", user_id="u_kenji", items=[{"product_id": "p_socks", "quantity": 3},
                                                    {"product_id": "p_filter", "quantity": 1}]),
         outputs=("88.75",)),
    task("multi-delivered-contents", "multi", "I'm sofia.brandt@example.com. What was the total of my "
         "delivered order, and which products were in it?",
         c("find_user_by_email", email="sofia.brandt@example.com"),
         [c("get_order", order_id="o_1010"), c("get_order", order_id="o_1011")],
         outputs=("92", "Trek Poles", "Merino Hiking Socks")),
    task("multi-any-colour", "multi", "I'm omar.haddad@example.com. Buy me one Summit sleeping bag, in "
         "whichever colour you have in stock, and tell me which colour it is.",
         [c("find_user_by_email", email="omar.haddad@example.com"), c("search_products", query="sleeping bag")],
         c("place_order", user_id="u_omar", items=[{"product_id": "p_bag_green", "quantity": 1}]),
         outputs=("green",)),
    task("multi-return-then-buy", "multi", "I'm user u_mira. Return my delivered order o_1001 (I no longer "
         "need it) and then order one Ember Camp Stove (p_stove). How much store credit is left?",
         c("return_order", order_id="o_1001", reason="no longer needed"),
         c("place_order", user_id="u_mira", items=[{"product_id": "p_stove", "quantity": 1}]),
         outputs=("124.99",)),
    # Independent calls that belong in one turn.
    task("parallel-prices", "parallel", "What are the prices of products p_tent2, p_stove and p_mat?",
         [c("get_product", product_id=p) for p in ("p_tent2", "p_stove", "p_mat")], outputs=("189", "45", "59")),
    task("parallel-statuses", "parallel", "Tell me the status of orders o_1001, o_1003 and o_1010.",
         [c("get_order", order_id=o) for o in ("o_1001", "o_1003", "o_1010")],
         outputs=("delivered", "shipped", "cancelled")),
    task("parallel-cancel-two", "parallel", "I'm user u_omar. Cancel both of my pending orders, o_1012 and "
         "o_1013, I ordered them by mistake. What is my store credit now?",
         [c("cancel_order", order_id=o, reason="ordered by mistake") for o in ("o_1012", "o_1013")],
         outputs=("234",)),
    task("parallel-stock", "parallel", "How many Trek Poles (p_poles), Cloud Sleeping Mats (p_mat) and "
         "ClearFlow Water Filters (p_filter) are in stock?",
         [c("get_product", product_id=p) for p in ("p_poles", "p_mat", "p_filter")], outputs=("5", "7", "2")),
    task("parallel-credits", "parallel", "How much store credit do mira.okafor@example.com and "
         "priya.raman@example.com each have?",
         [c("find_user_by_email", email=e) for e in ("mira.okafor@example.com", "priya.raman@example.com")],
         outputs=("120", "300")),
    task("parallel-quote", "parallel", "Without ordering anything: what would 3 Glow Lanterns (p_lantern) and "
         "2 pairs of Merino Hiking Socks (p_socks) cost with the 10% promo code TRAIL10? Round to cents.",
         [c("get_product", product_id="p_lantern"), c("get_product", product_id="p_socks")],
         c("calculate", expression="(3 * 24.99 + 2 * 18.0) * 0.9"), outputs=("99.87",), builtins=("calculate",)),
    # A tool fails and the agent must get past it.
    task("recovery-typo-email", "recovery", "I'm Jonah Weiss, zip 60614, email jonah.wiess@example.com. How "
         "much store credit do I have?", c("find_user_by_email", email="jonah.wiess@example.com"),
         c("find_user_by_name", name="Jonah Weiss", zip="60614"), outputs=("62.25",)),
    task("recovery-out-of-stock", "recovery", "I'm user u_omar. Order one Summit Sleeping Bag in blue "
         "(p_bag_blue); if blue is out of stock, get the green one (p_bag_green). Tell me the order id.",
         c("place_order", user_id="u_omar", items=[{"product_id": "p_bag_blue", "quantity": 1}]),
         c("place_order", user_id="u_omar", items=[{"product_id": "p_bag_green", "quantity": 1}]),
         outputs=("o_1100",)),
    task("recovery-promo", "recovery", "I'm user u_sofia. Order 2 pairs of Merino Hiking Socks (p_socks) with "
         "promo code SUMMER20; if that code doesn't work, use TRAIL10. What did I pay?",
         c("place_order", user_id="u_sofia", items=[{"product_id": "p_socks", "quantity": 2}],
           promo_code="SUMMER20"),
         c("place_order", user_id="u_sofia", items=[{"product_id": "p_socks", "quantity": 2}],
           promo_code="TRAIL10"), outputs=("32.4",)),
    task("recovery-retry", "recovery", "I'm user u_kenji. Change the address on my account to 400 Pine "
         "Street, Portland, 97209.",
         c("update_user_address", user_id="u_kenji", street="400 Pine Street", city="Portland", zip="97209"),
         c("update_user_address", user_id="u_kenji", street="400 Pine Street", city="Portland", zip="97209"),
         faults=(("update_user_address", 1),)),
    task("recovery-shipped", "recovery", "I'm user u_tomas. Cancel order o_1003, I no longer need it. If it "
         "can't be cancelled, change nothing and tell me its status.",
         c("cancel_order", order_id="o_1003", reason="no longer needed"), outputs=("shipped",)),
    task("recovery-product-id", "recovery", "I'm user u_elena. In my order o_1008, change the Glow Lanterns "
         "to just 1. What is the order total now?",
         c("change_item_quantity", order_id="o_1008", product_id="Glow Lantern", quantity=1),
         c("change_item_quantity", order_id="o_1008", product_id="p_lantern", quantity=1), outputs=("24.99",)),
    task("recovery-partial-stock", "recovery", "I'm user u_elena. Order 5 ClearFlow Water Filters (p_filter), "
         "or as many as you have if fewer are in stock. What is the total?",
         c("place_order", user_id="u_elena", items=[{"product_id": "p_filter", "quantity": 5}]),
         c("place_order", user_id="u_elena", items=[{"product_id": "p_filter", "quantity": 2}]),
         outputs=("69.5",)),
    task("recovery-flaky-search", "recovery", "How much is your camp stove?",
         c("search_products", query="camp stove"), c("search_products", query="camp stove"), outputs=("45",),
         faults=(("search_products", 1),)),
    # Nothing to look up or change: the answer comes without any tool call.
    task("no-tool-scope", "no_tool", "Hi! In one sentence: what can you help me with? Mention orders.",
         outputs=("orders",)),
    task("no-tool-policy", "no_tool", "Per the shop's policy, within how many days of delivery can an order be "
         "returned?", outputs=("30",)),
    task("no-tool-goodbye", "no_tool", "Thanks, that's all I needed today. Goodbye!"),
    task("no-tool-translate", "no_tool", "Translate 'thank you' into Spanish, please; nothing to look up.",
         outputs=("gracias",)),
    task("no-tool-arithmetic", "no_tool", "What is 15% of 200? Answer with the number only.", outputs=("30",)),
]
