"""`sidekick stats` over a database written by the store: the --json shape, percentiles, ranking, the period,
the chart; and where the database is by default."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sidekick.usage as usage
from sidekick.usage.stats import collect, parse_since, percentile
from sidekick.usage.store import RunRow, ToolRow, UsageStore

NOW = time.time()


def tool(name: str, ms: float, ok: bool = True, error: str | None = None, source: str = "builtin") -> ToolRow:
    return ToolRow(started_at=NOW - 60, tool=name, source=source, ok=ok, duration_ms=ms, error_class=error)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "usage.db"
    store = UsageStore(path)
    store.write([
        RunRow(NOW - 60, 100.0, "native", "done", prompt_tokens=10, completion_tokens=2, total_tokens=12,
               category="finance", tools=[tool("calculate", ms) for ms in range(1, 21)]),
        RunRow(NOW - 50, 300.0, "upfront", "error", error_kind="timeout",
               tools=[tool("fetch_url", 900.0, ok=False, error="tool_error"), tool("SEND", 5.0, source="host")]),
        RunRow(NOW - 40, 200.0, "native", "error", error_kind="timeout"),
        RunRow(NOW - 30, 50.0, "native", "cancelled"),
        RunRow(NOW - 10 * 86_400, 1.0, "native", "done"),  # outside the default week
    ])
    store.close()
    return path


def test_the_json_shape_scripts_rely_on(db: Path) -> None:
    stats = collect(db, parse_since("7d"))
    assert stats["runs"] == {"total": 4, "succeeded": 1, "successRate": round(1 / 3, 4),
                             "byStopReason": {"done": 1, "error": 2, "timeout": 0, "max_steps": 0, "token_budget": 0,
                                              "cancelled": 1},
                             "p50Ms": 100.0, "p95Ms": 300.0}
    assert stats["tools"][0] == {"name": "calculate", "source": "builtin", "calls": 20, "errors": 0, "successRate": 1.0,
                                 "p50Ms": 10.0, "p95Ms": 19.0}
    assert {(t["name"], t["source"], t["errors"]) for t in stats["tools"][1:]} == {("fetch_url", "builtin", 1),
                                                                                   ("SEND", "host", 0)}
    assert stats["failureModes"] == [{"kind": "timeout", "scope": "run", "count": 2},
                                     {"kind": "tool_error", "scope": "tool", "count": 1}]
    assert stats["byFramework"][0] == {"framework": "native", "runs": 3, "succeeded": 1, "successRate": 0.5}
    assert {c["category"] for c in stats["byCategory"]} == {"finance", None}
    assert stats["tokens"] == {"prompt": 10, "completion": 2, "total": 12}
    assert len(stats["byDay"]) in (8, 9) and stats["byDay"][-1]["runs"] == 4  # every day of the week, empty too
    assert collect(db, parse_since("30d"))["runs"]["total"] == 5


def test_a_missing_database_is_all_zero(tmp_path: Path) -> None:
    stats = collect(tmp_path / "none.db", parse_since("1d"))
    assert stats["runs"]["total"] == 0 and stats["runs"]["successRate"] is None and stats["tools"] == []
    assert not (tmp_path / "none.db").exists()


def test_since_takes_spans_and_dates() -> None:
    assert parse_since("7d", now=1_000_000.0) == 1_000_000.0 - 7 * 86_400
    assert parse_since("12h", now=100_000.0) == 100_000.0 - 12 * 3_600
    assert parse_since("2w", now=2_000_000.0) == 2_000_000.0 - 14 * 86_400
    assert parse_since("2025-06-01") == time.mktime((2025, 6, 1, 0, 0, 0, 0, 0, -1))
    with pytest.raises(ValueError, match="like 7d"):
        parse_since("last tuesday")


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([float(v) for v in range(1, 101)], 0.95) == 95.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0


def sidekick_stats(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sidekick", "stats", *args], capture_output=True, text=True,
                          timeout=60)


def test_the_command_prints_text_json_and_a_chart(db: Path, tmp_path: Path) -> None:
    text = sidekick_stats("--db", str(db))
    assert text.returncode == 0, text.stderr
    assert "Runs: 4, success rate 33%" in text.stdout and "timeout (run)" in text.stdout
    as_json = sidekick_stats("--db", str(db), "--json", "--since", "30d")
    assert json.loads(as_json.stdout)["runs"]["total"] == 5
    png = tmp_path / "chart.png"
    charted = sidekick_stats("--db", str(db), "--chart", str(png), "--json")
    assert charted.returncode == 0, charted.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    bad = sidekick_stats("--since", "soon")
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_the_chart_imports_matplotlib_only_when_asked(db: Path) -> None:
    program = ("import sys; from sidekick.cli import main; main(['stats', '--json', '--db', sys.argv[1]]); "
               "print('matplotlib' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", program, str(db)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr.strip().endswith("False")


def test_where_the_database_is_and_how_it_is_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SIDEKICK_USAGE_DB")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert usage.db_path() == tmp_path / "state" / "sidekick" / "usage.db"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert usage.db_path() == tmp_path / "home" / ".local" / "state" / "sidekick" / "usage.db"
    monkeypatch.setenv("SIDEKICK_USAGE_DB", "~/elsewhere.db")
    assert usage.db_path() == tmp_path / "home" / "elsewhere.db"
    for off in ("off", "0", "false", "NO"):
        monkeypatch.setenv("SIDEKICK_USAGE", off)
        assert not usage.enabled() and usage.writer() is None
    monkeypatch.setenv("SIDEKICK_USAGE", "on")
    assert usage.enabled()


def test_retention_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    assert (usage.retention().days, usage.retention().max_bytes) == (90.0, 64 * 1024 * 1024)
    monkeypatch.setenv("SIDEKICK_USAGE_RETENTION_DAYS", "7")
    monkeypatch.setenv("SIDEKICK_USAGE_MAX_MB", "0.5")
    assert (usage.retention().days, usage.retention().max_bytes) == (7.0, 512 * 1024)
    monkeypatch.setenv("SIDEKICK_USAGE_MAX_MB", "lots")
    assert usage.retention().max_bytes == 64 * 1024 * 1024 and "SIDEKICK_USAGE_MAX_MB" in caplog.text
