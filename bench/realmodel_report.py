"""Summarise bench/realmodel.sh's results: pass rate per category over the runs, with their spread.

    python bench/realmodel_report.py OUT_DIR     # reads OUT_DIR/<suite>-<run>/report.json and OUT_DIR/probes.json
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sidekick.evals.report import LABELS, failure_modes, why_failed  # noqa: E402


def spread(values: list[float]) -> str:
    shown = f"{statistics.mean(values) * 100:.1f}%"
    return shown if len(values) == 1 else f"{shown} ({min(values) * 100:.0f}–{max(values) * 100:.0f})"


def main(out: Path) -> int:
    suites: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(out.glob("*-*/report.json")):
        report = json.loads(path.read_text())
        suites.setdefault(report["suite"], []).append(report)
    if not suites:
        print(f"no <suite>-<run>/report.json under {out}", file=sys.stderr)
        return 1
    for reports in suites.values():
        summarise(reports)
    probes = out / "probes.json"
    if probes.is_file():
        print("\n## Probes\n")
        for name, record in json.loads(probes.read_text()).items():
            print(f"- {name}: {'ok' if record.get('ok') else 'FAILED'}; stop {record.get('stopReason')}, "
                  f"{record.get('modelTurns')} model turn(s), {record.get('promptTokens')} prompt tokens, "
                  f"{record.get('seconds')} s" + (f"; error {record['errorKind']}" if record.get("errorKind") else ""))
    return 0


def summarise(reports: list[dict[str, Any]]) -> None:
    first = reports[0]
    modes = first["modes"]
    print(f"## {first['suite']} suite, {len(reports)} run(s)\n")
    print(f"Model `{first['model']}` at `{first['baseUrl']}`; finished {first['finishedAt']}.")
    for key in ("endpoint", "settings"):
        if key in first:
            print(f"{key.capitalize()}: `{json.dumps(first[key], ensure_ascii=False)}`.")
    print("\nPass rate, mean over the runs (min–max):\n")
    print("| Category | Tasks | " + " | ".join(LABELS[m] for m in modes) + (" | Difference |" if len(modes) > 1 else ""))
    print("|---|---:|" + "---:|" * (len(modes) + (len(modes) > 1)))
    categories = list(first["summary"][modes[0]]["byCategory"])
    for category in [*categories, None]:
        rates = {m: [(r["summary"][m]["byCategory"][category]["passRate"] if category else r["summary"][m]["passRate"])
                     for r in reports] for m in modes}
        tasks = first["summary"][modes[0]]["byCategory"][category]["tasks"] if category else len(first["tasks"])
        diff = ""
        if len(modes) > 1:
            diff = f" | {(statistics.mean(rates[modes[0]]) - statistics.mean(rates[modes[1]])) * 100:+.1f} pts"
        print(f"| {category or '**all**'} | {tasks} | " + " | ".join(spread(rates[m]) for m in modes) + diff + " |")
    print("\nFailure modes, summed over the runs:\n")
    print("| Failure mode | " + " | ".join(LABELS[m] for m in modes) + " |")
    print("|---|" + "---:|" * len(modes))
    counts = {m: Counter(f for r in reports for run in r["runs"][m] if run["reward"] != 1.0 for f in failure_modes(run))
              for m in modes}
    for mode_name in sorted(set().union(*counts.values()), key=lambda f: -sum(c[f] for c in counts.values())):
        print(f"| {mode_name} | " + " | ".join(str(counts[m][mode_name]) for m in modes) + " |")
    always = [run for run in first["runs"][modes[0]] if run["reward"] != 1.0 and all(
        any(o["task"] == run["task"] and o["reward"] != 1.0 for o in r["runs"][modes[0]]) for r in reports)]
    print(f"\n{LABELS[modes[0]]}: failed in every run ({len(always)}):\n")
    for run in always:
        print(f"- {run['task']}: {why_failed(run)}")
    print()


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ".")))
