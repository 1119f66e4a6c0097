"""`sidekick tools`: the tools this installation offers, with their input schemas."""

from __future__ import annotations

import argparse
import json

from sidekick.commands import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the MCP tool list as JSON")


def main(args: argparse.Namespace) -> int:
    from sidekick.methods import run_task_spec
    from sidekick.tools import build_registry

    specs = [*build_registry().specs(), run_task_spec()]
    if args.json:
        print(json.dumps({"tools": specs}, indent=2))
        return EXIT_OK
    for spec in specs:
        schema = spec["inputSchema"]
        required = set(schema.get("required", []))
        fields = ", ".join(f"{name}{'' if name in required else '?'}: {prop.get('type', 'any')}"
                           for name, prop in schema.get("properties", {}).items())
        print(f"{spec['name']}({fields})")
        print(f"    {spec['description']}")
    return EXIT_OK
