"""A short soak (bench/soak.py's driver): thousands of mixed requests against one process, nothing lost,
nothing duplicated or mixed up, RSS growth small, exit 0."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SOAK_PATH = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def load_soak():  # noqa: ANN201 - bench/ is a script directory, not a package
    spec = importlib.util.spec_from_file_location("bench_soak", SOAK_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_soak", module)  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_a_short_soak_loses_nothing_and_stays_small() -> None:
    soak = load_soak()
    report = soak.Soak(window=32, seed=7, deadline_s=50).run(4000)
    assert report.problems == [], "\n".join(report.lines())
    assert report.exit_code == 0
    assert report.answered + report.cancelled_runs > 3500
    assert report.cancelled_runs > 0 and report.host_calls > 0
    growth_mb = (report.rss_end_kb - report.rss_start_kb) / 1024
    assert growth_mb < 24, "\n".join(report.lines())
