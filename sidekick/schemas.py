"""Generate schemas/ (JSON Schema of every method and notification) from the pydantic models.

Run `python -m sidekick.schemas` to regenerate; `python -m sidekick.schemas --check` exits 1 when stale.

One file a method: `params` and `result` as the handshake era (2024-11-05 … 2025-11-25) sends them (for a
method only 2026-07-28 has, as that revision does), `revisions` (which MCP revisions serve it), `otherResults`
(the handshake era's other answers: a task), and `modern` (`{revision, params, result}`) where 2026-07-28 differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sidekick.mcp_protocol import MCP_WIRE, McpWire
from sidekick.method_table import WIRE_METHODS

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "schemas"


def file_name(method: str) -> str:
    return method.replace("/", ".") + ".json"


def _result(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(by_alias=True, mode="serialization")


def _one_of(models: tuple[type[BaseModel], ...]) -> dict[str, Any]:
    return _result(models[0]) if len(models) == 1 else {"anyOf": [_result(m) for m in models]}


def render_all() -> dict[str, str]:
    """File name → file text for every wire method."""
    mcp = {entry.name: entry for entry in MCP_WIRE}
    table = {m.name: m for m in WIRE_METHODS}
    files = {}
    for name in [*table, *(n for n in mcp if n not in table)]:
        method, entry = table.get(name), mcp.get(name) or McpWire(name, "host", ())
        params = entry.params or (method.params if method else None)
        result = entry.result or (method.result if method else None)
        assert params is not None, name
        doc: dict[str, Any] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": name,
            "kind": "notification" if result is None else "request",
            "sentBy": method.direction if method else entry.direction,
            "params": params.model_json_schema(by_alias=True),
        }
        if entry.revisions:
            doc["revisions"] = list(entry.revisions)
        if result is not None:
            doc["result"] = _result(result)
        if entry.other_results:
            doc["otherResults"] = [_result(m) for m in entry.other_results]
        if entry.modern_params is not None:
            doc["modern"] = {"revision": "2026-07-28", "params": entry.modern_params.model_json_schema(by_alias=True),
                             "result": _one_of(entry.modern_results)}
        files[file_name(name)] = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    return files


def stale_files(directory: Path) -> list[str]:
    """Names of files that are missing, different, or no longer generated."""
    wanted = render_all()
    stale = [name for name, text in wanted.items()
             if not (directory / name).is_file() or (directory / name).read_text() != text]
    extra = [f.name for f in directory.glob("*.json") if f.name not in wanted] if directory.is_dir() else []
    return sorted(stale + extra)


def write_all(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    wanted = render_all()
    for extra in directory.glob("*.json"):
        if extra.name not in wanted:
            extra.unlink()
    for name, text in wanted.items():
        (directory / name).write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--check", action="store_true", help="exit 1 if the files are stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.dir)
        for name in stale:
            print(f"stale: {name}", file=sys.stderr)
        return 1 if stale else 0
    write_all(args.dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
