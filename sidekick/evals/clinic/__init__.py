"""A second built-in suite: a small clinic's appointment desk (patients, doctors' slots, appointments, invoices)."""

from __future__ import annotations

from typing import Any

from sidekick.evals.clinic.data import POLICY
from sidekick.evals.clinic.tasks import TASKS
from sidekick.evals.clinic.tools import TOOLS, ClinicEnvironment
from sidekick.evals.domain import CATEGORIES
from sidekick.evals.suite import Task


class ClinicSuite:
    """Patients, doctors with weekly slots, appointments and invoices in one JSON database; ten tools."""

    name = "clinic"
    description = "Harbourside Family Clinic: an invented appointment desk (patients, doctors, appointments, invoices)"
    system_prompt = POLICY
    categories = CATEGORIES

    def tasks(self) -> list[Task]:
        """Every task of the suite."""
        return list(TASKS)

    def tool_specs(self, task: Task) -> list[dict[str, Any]]:
        """The clinic's ten tools as MCP tool specs (every task offers them all)."""
        return [tool.spec() for tool in TOOLS.values()]

    def new_environment(self, task: Task) -> ClinicEnvironment:
        """A fresh database for one trial, with the task's injected faults."""
        return ClinicEnvironment(dict(task.faults))
