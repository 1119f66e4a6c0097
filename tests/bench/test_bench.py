"""The benchmarks' own machinery: paired ratios, and both clients running one plan (no timings asserted)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.peers import echo_command
from bench.pyclient import run_plan
from bench.stats import Spread, paired

ROOT = Path(__file__).resolve().parents[2]


def test_ratios_are_paired_round_by_round_not_taken_of_medians() -> None:
    sidekick, echo = [10.0, 30.0, 20.0], [10.0, 10.0, 40.0]  # round 3 was a busy moment for both
    assert paired(sidekick, echo) == Spread(0.5, 1.0, 3.0)
    assert Spread.of(sidekick).median / Spread.of(echo).median == 2.0  # what the old benchmark printed
    assert paired(sidekick, echo).show(2) == "1.00 (0.50–3.00)"
    with pytest.raises(ValueError):
        paired([1.0], [1.0, 2.0])


def tiny_plan() -> dict:
    sidekick = [sys.executable, "-m", "sidekick", "--stdio"]
    return {"rounds": 2, "pings": 5, "warmup": 4, "calls": 3, "pipelined": 50, "targets": [
        {"name": "echo loop", "stdio": echo_command(), "pipelined": True},
        {"name": "sidekick", "stdio": sidekick, "cwd": str(ROOT), "mcp": True, "calculate": True, "pipelined": True}]}


def assert_figures(results: dict) -> None:
    assert set(results["ping"]) == {"echo loop", "sidekick"}
    assert set(results["calculate"]) == {"sidekick"} and set(results["pipelined"]) == {"echo loop", "sidekick"}
    for metric in ("ping", "ping p99", "calculate", "pipelined"):
        for figures in results[metric].values():
            assert len(figures) == 2 and all(f > 0 for f in figures)


def test_the_python_client_runs_a_plan() -> None:
    assert_figures(run_plan(tiny_plan()))


@pytest.mark.skipif(shutil.which("node") is None, reason="no node")
def test_the_node_client_runs_the_same_plan() -> None:
    out = subprocess.run(["node", str(ROOT / "bench" / "node_client.mjs")], input=json.dumps(tiny_plan()).encode(),
                         capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    assert_figures(json.loads(out.stdout))
