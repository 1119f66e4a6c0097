"""`sidekick tools`: the tools this installation offers, with their input schemas."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sidekick.commands import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the MCP tool list as JSON")


def type_name(schema: dict[str, Any]) -> str:
    """A JSON Schema's type the way a signature shows it: `integer`, `string[]`, `object`, `'a' | 'b'`.

    pydantic writes an optional field as `anyOf: [{type: X}, {type: null}]`; the `?` of the signature
    already says it may be left out, so the null is dropped.
    """
    if "enum" in schema:
        return " | ".join(json.dumps(value) for value in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            names = [type_name(s) for s in schema[key] if s.get("type") != "null"]
            return " | ".join(dict.fromkeys(names)) or "null"
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(k for k in kind if k != "null") or "null"
    if kind == "array":
        items = type_name(schema.get("items", {}))
        return f"({items})[]" if " | " in items else f"{items}[]"
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    return kind or "any"


def signature(spec: dict[str, Any]) -> str:
    schema = spec["inputSchema"]
    required = set(schema.get("required", []))
    fields = ", ".join(f"{name}{'' if name in required else '?'}: {type_name(prop)}"
                       for name, prop in schema.get("properties", {}).items())
    return f"{spec['name']}({fields})"


def main(args: argparse.Namespace) -> int:
    from sidekick.methods import run_task_spec
    from sidekick.tools import build_registry

    specs = [*build_registry().specs(), run_task_spec()]
    if args.json:
        print(json.dumps({"tools": specs}, indent=2))
        return EXIT_OK
    for spec in specs:
        print(signature(spec))
        print(f"    {spec['description']}")
    return EXIT_OK
