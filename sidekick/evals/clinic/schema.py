"""What a clinic tool is, and the strict check of its arguments against its JSON Schema before it runs."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sidekick.evals.domain import DomainTool, ToolError

TYPES = {"string": str, "integer": int, "number": (int, float), "array": list, "object": dict}
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
TIME = r"([01]\d|2[0-3]):[0-5]\d"
FORMATS = {"date": "a date as YYYY-MM-DD, e.g. 2025-03-14"}
PATTERNS = {TIME: "a 24-hour time as HH:MM, e.g. 09:30"}


def string(**extra: Any) -> dict[str, Any]:
    """A string property; `extra` adds description, enum, format or pattern."""
    return {"type": "string", **extra}


def a_date(description: str) -> dict[str, Any]:
    """A calendar date property."""
    return string(format="date", description=description)


def a_time(description: str) -> dict[str, Any]:
    """A clock time property (HH:MM)."""
    return string(pattern=f"^{TIME}$", description=description)


def _check_value(key: str, value: Any, schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    expected = TYPES.get(kind)
    if expected and (not isinstance(value, expected) or isinstance(value, bool)):
        return f"{key} must be of type {kind}, got {type(value).__name__}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{key} must be one of {schema['enum']}, got {value!r}"
    if schema.get("format") == "date":
        try:
            if not DATE.fullmatch(value):
                raise ValueError
            date.fromisoformat(value)
        except ValueError:
            return f"{key} must be {FORMATS['date']}, got {value!r}"
    pattern = schema.get("pattern", "").strip("^$")
    if pattern and not re.fullmatch(pattern, value):
        return f"{key} must be {PATTERNS.get(pattern, 'of the form ' + pattern)}, got {value!r}"
    return None


class ClinicTool(DomainTool):
    def check(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments without null options; ToolError lists every problem found."""
        unknown = sorted(set(arguments) - set(self.properties))
        missing = [key for key in self.required if arguments.get(key) is None]
        problems = [f"missing {', '.join(missing)}"] if missing else []
        if unknown:
            problems.append(f"unexpected {', '.join(unknown)} (accepted: {', '.join(self.properties)})")
        # models often send null for an option they do not use
        given = {key: value for key, value in arguments.items() if value is not None and key in self.properties}
        problems += [p for key, value in given.items() if (p := _check_value(key, value, self.properties[key]))]
        if problems:
            raise ToolError(f"invalid arguments for {self.name}: " + "; ".join(problems))
        return given
