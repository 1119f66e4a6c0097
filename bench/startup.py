"""Cold start against the import floor, interleaved: spawn → first answer, wall time and CPU.

    python bench/startup.py [--rounds 9] [--importtime 5] [--sidekick-root DIR] [--baseline-root DIR]

The floor is what the chosen packages cost to import (asyncio, json, pydantic's BaseModel,
jsonrpcserver) in a process that then answers one line, as the sidekick answers `initialize`. The
"as used" floor imports only the jsonrpcserver modules the sidekick loads (not its __init__, which
pulls in jsonschema and http.server). `--importtime` runs `python -X importtime -m sidekick --stdio`
that many times and prints where start-up goes, by top-level package (median of the runs).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stats import Spread, paired  # noqa: E402

INITIALIZE = (json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}})
    + "\n").encode()
ANSWER_ONE_LINE = "sys.stdin.readline(); sys.stdout.write('{}\\n'); sys.stdout.flush(); sys.stdin.read()"
FLOOR = "import asyncio, json, sys; from pydantic import BaseModel; import jsonrpcserver; " + ANSWER_ONE_LINE
FLOOR_AS_USED = (
    "import asyncio, importlib, importlib.util, json, sys; from pydantic import BaseModel; "
    "spec = importlib.util.find_spec('jsonrpcserver'); "
    "sys.modules['jsonrpcserver'] = importlib.util.module_from_spec(spec); "
    "import jsonrpcserver.dispatcher, jsonrpcserver.async_dispatcher; " + ANSWER_ONE_LINE)


def sidekick_command(root: Path = ROOT) -> dict[str, Any]:
    return {"cmd": [sys.executable, "-m", "sidekick", "--stdio"], "cwd": str(root)}


def floors() -> dict[str, dict[str, Any]]:
    return {"import floor": {"cmd": [sys.executable, "-c", FLOOR]},
            "import floor (as used)": {"cmd": [sys.executable, "-c", FLOOR_AS_USED]},
            "bare interpreter": {"cmd": [sys.executable, "-c", "import sys; " + ANSWER_ONE_LINE]}}


def time_to_answer(spec: dict[str, Any]) -> tuple[float, float]:
    """(wall ms from spawn to the first answer line, CPU ms of the whole process life)."""
    start = time.perf_counter()
    proc = subprocess.Popen(spec["cmd"], cwd=spec.get("cwd"), env=spec.get("env"), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
    proc.stdin.write(spec.get("first", INITIALIZE))
    line = proc.stdout.readline()
    wall = (time.perf_counter() - start) * 1000
    assert line.endswith(b"\n"), f"{spec['cmd']} gave no answer"
    proc.stdin.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    return wall, (usage.ru_utime + usage.ru_stime) * 1000


def cold_starts(specs: dict[str, dict[str, Any]], rounds: int) -> dict[str, dict[str, list[float]]]:
    """Per spec, wall and CPU figures, one per round; each round starts every spec once (order rotating).

    A spec is a command answering `first` (default: initialize), or a `measure` callable of its own.
    """
    names = list(specs)
    figures: dict[str, dict[str, list[float]]] = {n: {"wall": [], "cpu": []} for n in names}
    time_to_answer(specs[names[0]])  # the first start of all warms the disk cache
    for round_no in range(rounds):
        for name in names[round_no % len(names):] + names[:round_no % len(names)]:
            spec = specs[name]
            wall, cpu = spec["measure"]() if "measure" in spec else time_to_answer(spec)
            figures[name]["wall"].append(wall)
            figures[name]["cpu"].append(cpu)
    return figures


def import_breakdown(root: Path, runs: int) -> list[tuple[str, float]]:
    """(top-level package, median ms of its modules' own import time) for a start up to `initialize`."""
    per_run: list[dict[str, float]] = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "sidekick", "--stdio"], cwd=root,
                              input=INITIALIZE, capture_output=True, timeout=60)
        totals: dict[str, float] = defaultdict(float)
        for match in re.finditer(rb"import time:\s+(\d+) \|\s+\d+ \|\s*([\w.]+)", proc.stderr):
            totals[match[2].decode().split(".")[0]] += int(match[1]) / 1000
        per_run.append(totals)
    packages = {name for run in per_run for name in run}
    medians = {name: statistics.median(run.get(name, 0.0) for run in per_run) for name in packages}
    total = statistics.median(sum(run.values()) for run in per_run)
    return [("(all)", total)] + sorted(medians.items(), key=lambda item: -item[1])


def report(figures: dict[str, dict[str, list[float]]], reference: str = "sidekick") -> list[str]:
    lines = [f"{'':<26}{'to first answer, ms':>24}{'CPU, ms':>24}{'sidekick ÷ it (wall)':>24}"
             f"{'(CPU)':>20}"]
    for name, figure in figures.items():
        ratio = "" if name == reference else paired(figures[reference]["wall"], figure["wall"]).show(2)
        cpu_ratio = "" if name == reference else paired(figures[reference]["cpu"], figure["cpu"]).show(2)
        lines.append(f"{name:<26}{Spread.of(figure['wall']).show():>24}{Spread.of(figure['cpu']).show():>24}"
                     f"{ratio:>24}{cpu_ratio:>20}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--importtime", type=int, default=5, metavar="RUNS")
    parser.add_argument("--sidekick-root", type=Path, default=ROOT, help="the tree whose sidekick to start")
    parser.add_argument("--baseline-root", type=Path, help="also start this tree's sidekick, in the same rounds")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} (a shared machine: the spreads say how noisy)")
    specs = {"sidekick": sidekick_command(args.sidekick_root), **floors()}
    if args.baseline_root is not None:
        specs["sidekick (baseline)"] = sidekick_command(args.baseline_root)
    figures = cold_starts(specs, args.rounds)
    print(f"cold start, median (min–max) of {args.rounds} interleaved rounds:")
    print("\n".join(report(figures)))
    if args.importtime:
        print(f"\nimport time up to the initialize answer (-X importtime, own time by package, median of "
              f"{args.importtime} runs; importtime itself slows imports):")
        trees = {"sidekick": args.sidekick_root, "baseline": args.baseline_root}
        breakdowns = {name: dict(import_breakdown(root, args.importtime)) for name, root in trees.items() if root}
        packages = sorted(breakdowns["sidekick"], key=lambda n: -breakdowns["sidekick"][n])[:14]
        if "baseline" in breakdowns:  # and what the baseline imports that the sidekick no longer does
            packages += [n for n in sorted(breakdowns["baseline"], key=lambda n: -breakdowns["baseline"][n])[:14]
                         if n not in packages]
        print(f"  {'package':<26}" + "".join(f"{name:>14}" for name in breakdowns))
        for package in packages:
            print(f"  {package:<26}" + "".join(f"{b.get(package, 0.0):>11.1f} ms" for b in breakdowns.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
