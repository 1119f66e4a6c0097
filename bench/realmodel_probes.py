"""Probes of what real endpoints do to a run, through `sidekick run --json` (bench/realmodel.sh runs them).

    python bench/realmodel_probes.py [--sidekick .venv/bin/sidekick] [--out probes.json]

The endpoint comes from SIDEKICK_BASE_URL / SIDEKICK_MODEL. Each probe prints one line and is recorded:
- long_page: fetch_url of a ~48 KB page that is mostly digits (about one token per character), more than a
  small context window holds; the run must not fail with a context overflow.
- no_tool: a question that needs no tool, with tools offered; the answer must be prose, not a call.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sidekick.agent.textcalls import parse_text_tool_calls  # noqa: E402
from sidekick.testing.pages import PageServer  # noqa: E402

ROWS = 1500


def long_page() -> bytes:
    rows = "".join(f"<tr><td>{1000 + i}</td><td>{(i * 7919) % 100000}</td><td>{(i * 104729) % 1000}.{i % 100:02d}"
                   f"</td></tr>\n" for i in range(ROWS))
    return (f"<html><head><title>Orders ledger</title></head><body><h1>Orders ledger</h1><p>The order with id "
            f"1777 is the one the auditors asked about.</p><table><tr><th>id</th><th>units</th><th>amount</th></tr>"
            f"\n{rows}</table></body></html>").encode()


def run(sidekick: str, task: str, tools: str) -> dict[str, Any]:
    env = {**os.environ, "SIDEKICK_ALLOW_PRIVATE_URLS": "1"}
    begun = time.perf_counter()
    done = subprocess.run([sidekick, "run", task, "--json", "--tools", tools, "--max-steps", "6",
                           "--timeout-ms", "400000"], capture_output=True, text=True, env=env, timeout=600)
    seconds = round(time.perf_counter() - begun, 1)
    try:
        result = json.loads(done.stdout)
    except ValueError:
        return {"ok": False, "seconds": seconds, "exit": done.returncode, "stderr": done.stderr[-800:]}
    error = result.get("error") or {}
    return {"seconds": seconds, "exit": done.returncode, "stopReason": result["stopReason"],
            "errorKind": error.get("kind"), "error": error.get("message"), "modelTurns": result["modelTurns"],
            "toolsUsed": result["toolsUsed"], "promptTokens": result["usage"]["promptTokens"],
            "text": result["text"][:300]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sidekick", default=".venv/bin/sidekick")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    page = long_page()
    records: dict[str, Any] = {}
    with PageServer({"/ledger": ("text/html; charset=utf-8", page)}) as pages:
        records["long_page"] = {"pageBytes": len(page), **run(
            args.sidekick, f"Fetch {pages.url('/ledger')} and tell me which order the auditors asked about.",
            "fetch_url,calculate")}
        record = records["long_page"]
        record["ok"] = record.get("errorKind") not in ("context_overflow", "bad_request") and "1777" in record.get(
            "text", "")
    no_tool = run(args.sidekick, "In one sentence: why is the sky blue?", "calculate,fetch_url")
    no_tool["ok"] = no_tool.get("stopReason") == "done" and not parse_text_tool_calls(
        no_tool.get("text", ""), ["calculate", "fetch_url"]).calls
    records["no_tool"] = no_tool
    for name, record in records.items():
        print(f"{name}: {'ok' if record['ok'] else 'FAILED'} — {json.dumps(record, ensure_ascii=False)[:400]}")
    if args.out:
        args.out.write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
