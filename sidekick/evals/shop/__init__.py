"""The built-in suite: a small outdoor-gear shop in the style of tau-bench's retail domain."""

from __future__ import annotations

from typing import Any

from sidekick.evals.shop.data import POLICY
from sidekick.evals.shop.tasks import TASKS
from sidekick.evals.shop.tools import TOOLS, ShopEnvironment
from sidekick.evals.domain import CATEGORIES
from sidekick.evals.suite import Task


class ShopSuite:
    """Customers, products and orders in one JSON database; twelve tools that read and change it."""

    name = "shop"
    description = "Larch & Ledge: an invented outdoor-gear shop (users, orders, products, promo codes)"
    system_prompt = POLICY
    categories = CATEGORIES

    def tasks(self) -> list[Task]:
        return list(TASKS)

    def tool_specs(self, task: Task) -> list[dict[str, Any]]:
        return [tool.spec() for tool in TOOLS.values()]

    def new_environment(self, task: Task) -> ShopEnvironment:
        return ShopEnvironment(dict(task.faults))
