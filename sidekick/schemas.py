"""Generate schemas/ (JSON Schema of every method and notification) from the pydantic models.

Run `python -m sidekick.schemas` to regenerate; `python -m sidekick.schemas --check` exits 1 when stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sidekick.method_table import WIRE_METHODS

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "schemas"


def file_name(method: str) -> str:
    return method.replace("/", ".") + ".json"


def render_all() -> dict[str, str]:
    """File name → file text for every wire method."""
    files = {}
    for method in WIRE_METHODS:
        doc: dict[str, Any] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": method.name,
            "kind": "notification" if method.result is None else "request",
            "sentBy": method.direction,
            "params": method.params.model_json_schema(by_alias=True),
        }
        if method.result is not None:
            doc["result"] = method.result.model_json_schema(by_alias=True, mode="serialization")
        files[file_name(method.name)] = json.dumps(doc, indent=2, sort_keys=True) + "\n"
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
