"""What the usage store says about a period: the object `sidekick stats --json` prints, its text and its chart.

Success rate is runs that ended `done` over runs that ended (cancelled runs are left out: the host stopped
them). Latencies are nearest-rank percentiles in milliseconds. Days are local calendar days.
"""

from __future__ import annotations

import math
import re
import sqlite3
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable

STOP_REASONS = ("done", "error", "timeout", "max_steps", "token_budget", "cancelled")
UNITS = {"m": 60, "h": 3_600, "d": 86_400, "w": 7 * 86_400}
DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([mhdw])")


def parse_since(text: str, now: float | None = None) -> float:
    """`7d`, `12h`, `30m`, `2w` before now, or a date (`2025-06-01`, local midnight): a Unix time. ValueError else."""
    now = time.time() if now is None else now
    match = DURATION.fullmatch(text.strip().lower())
    if match:
        return now - float(match.group(1)) * UNITS[match.group(2)]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(f"expected a span like 7d, 24h, 30m, 2w or a date like 2025-06-01, got {text!r}") from None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of already sorted values; None for none."""
    if not values:
        return None
    return round(values[max(0, math.ceil(q * len(values)) - 1)], 1)


def _rate(done: int, ended: int) -> float | None:
    return round(done / ended, 4) if ended else None


def _day(started_at: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(started_at))


def _tally(rows: Iterable[tuple[Any, str]], label: str) -> list[dict[str, Any]]:
    """Runs, done and success rate per label value, most runs first."""
    counts: dict[Any, Counter[str]] = defaultdict(Counter)
    for value, stop in rows:
        counts[value][stop] += 1
    table = [{label: value, "runs": sum(c.values()), "succeeded": c["done"],
              "successRate": _rate(c["done"], sum(c.values()) - c["cancelled"])} for value, c in counts.items()]
    return sorted(table, key=lambda row: (-row["runs"], str(row[label])))


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def empty(path: Path, since: float, until: float) -> dict[str, Any]:
    return collect_rows(path, since, until, [], [])


def collect(path: Path, since: float, until: float | None = None) -> dict[str, Any]:
    """The stats of runs started in [since, until) in the database at `path` (all zero when there is none)."""
    until = time.time() + 1 if until is None else until
    if not path.exists():
        return empty(path, since, until)
    conn = _connect(path)
    try:
        if not conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'runs'").fetchone()[0]:
            return empty(path, since, until)
        runs = conn.execute(
            "SELECT started_at, duration_ms, framework, stop_reason, error_kind, category, client, prompt_tokens, "
            "completion_tokens, total_tokens FROM runs WHERE started_at >= ? AND started_at < ? ORDER BY started_at",
            (since, until)).fetchall()
        tools = conn.execute(
            "SELECT t.tool, t.source, t.ok, t.duration_ms, t.error_class FROM tool_calls t JOIN runs r "
            "ON r.id = t.run_id WHERE r.started_at >= ? AND r.started_at < ?", (since, until)).fetchall()
    finally:
        conn.close()
    return collect_rows(path, since, until, runs, tools)


def _days(since: float, until: float) -> list[str]:
    first = date.fromisoformat(_day(since))
    last = date.fromisoformat(_day(min(until, time.time())))
    count = (last - first).days + 1
    return [(first + timedelta(days=i)).isoformat() for i in range(max(count, 0))]


def collect_rows(path: Path, since: float, until: float, runs: list[tuple[Any, ...]],
                 tools: list[tuple[Any, ...]]) -> dict[str, Any]:
    stops = Counter(row[3] for row in runs)
    by_stop = {reason: stops.get(reason, 0) for reason in STOP_REASONS}
    by_stop.update({reason: n for reason, n in stops.items() if reason not in by_stop})
    durations = sorted(row[1] for row in runs)

    days = {day: Counter() for day in _days(since, until)}
    for row in runs:
        days.setdefault(_day(row[0]), Counter())[row[3]] += 1
    by_day = [{"day": day, "runs": sum(c.values()), "succeeded": c["done"],
               "successRate": _rate(c["done"], sum(c.values()) - c["cancelled"])} for day, c in sorted(days.items())]

    per_tool: dict[tuple[str, str], list[tuple[bool, float]]] = defaultdict(list)
    failures: Counter[tuple[str, str]] = Counter()
    for tool, source, ok, duration_ms, error_class in tools:
        per_tool[(tool, source)].append((bool(ok), duration_ms))
        if not ok:
            failures[(error_class or "tool_error", "tool")] += 1
    for row in runs:
        if row[3] == "error":
            failures[(row[4] or "unknown", "run")] += 1
    tool_table = []
    for (name, source), calls in per_tool.items():
        latencies = sorted(d for _, d in calls)
        errors = sum(1 for ok, _ in calls if not ok)
        tool_table.append({"name": name, "source": source, "calls": len(calls), "errors": errors,
                           "successRate": _rate(len(calls) - errors, len(calls)),
                           "p50Ms": percentile(latencies, 0.50), "p95Ms": percentile(latencies, 0.95)})
    tool_table.sort(key=lambda row: (-row["calls"], row["name"], row["source"]))
    ended = len(runs) - by_stop["cancelled"]
    return {
        "db": str(path),
        "since": datetime.fromtimestamp(since, timezone.utc).isoformat(timespec="seconds"),
        "until": datetime.fromtimestamp(min(until, time.time()), timezone.utc).isoformat(timespec="seconds"),
        "runs": {"total": len(runs), "succeeded": by_stop["done"], "successRate": _rate(by_stop["done"], ended),
                 "byStopReason": by_stop, "p50Ms": percentile(durations, 0.50), "p95Ms": percentile(durations, 0.95)},
        "byDay": by_day,
        "byFramework": _tally(((row[2], row[3]) for row in runs), "framework"),
        "byCategory": _tally(((row[5], row[3]) for row in runs), "category"),
        "byClient": _tally(((row[6], row[3]) for row in runs), "client"),
        "tools": tool_table,
        "failureModes": [{"kind": kind, "scope": scope, "count": count}
                         for (kind, scope), count in sorted(failures.items(), key=lambda i: (-i[1], i[0]))],
        "tokens": {"prompt": sum(row[7] for row in runs), "completion": sum(row[8] for row in runs),
                   "total": sum(row[9] for row in runs)},
    }


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.0f}%"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def render(stats: dict[str, Any]) -> str:
    """The stats as text for a terminal."""
    runs = stats["runs"]
    lines = [f"Usage since {stats['since']} ({stats['db']})", "",
             f"Runs: {runs['total']}, success rate {_pct(runs['successRate'])}, "
             f"p50 {_ms(runs['p50Ms'])}, p95 {_ms(runs['p95Ms'])}",
             "  stop reasons: " + ", ".join(f"{k} {v}" for k, v in runs["byStopReason"].items() if v or k == "done")]
    tokens = stats["tokens"]
    lines.append(f"Tokens: {tokens['total']:,} ({tokens['prompt']:,} prompt, {tokens['completion']:,} completion)")
    for title, key, label in (("By day", "byDay", "day"), ("By framework", "byFramework", "framework"),
                              ("By category", "byCategory", "category"), ("By client", "byClient", "client")):
        rows = [r for r in stats[key] if r["runs"]] if key == "byDay" else stats[key]
        if not rows:
            continue
        lines += ["", f"{title}:"]
        lines += [f"  {str(r[label] if r[label] is not None else '(none)'):<24} {r['runs']:>6} run(s)  "
                  f"{_pct(r['successRate']):>5} done" for r in rows]
    if stats["tools"]:
        lines += ["", "Tools:", f"  {'name':<24} {'source':<8} {'calls':>6} {'errors':>6} {'p50':>10} {'p95':>10}"]
        lines += [f"  {t['name']:<24} {t['source']:<8} {t['calls']:>6} {t['errors']:>6} {_ms(t['p50Ms']):>10} "
                  f"{_ms(t['p95Ms']):>10}" for t in stats["tools"]]
    if stats["failureModes"]:
        lines += ["", "Failure modes:"]
        lines += [f"  {f['count']:>6}  {f['kind']} ({f['scope']})" for f in stats["failureModes"]]
    return "\n".join(lines)


def chart(stats: dict[str, Any], path: Path) -> None:
    """A PNG of runs per day (bars) and their success rate (line). Needs matplotlib (the eval extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    days = stats["byDay"]
    labels = [d["day"][5:] for d in days]
    figure, runs_axis = plt.subplots(figsize=(max(6.0, 0.5 * len(days) + 2), 3.6), dpi=120)
    try:
        runs_axis.bar(labels, [d["runs"] for d in days], color="#8fb3d9", label="runs")
        runs_axis.set_ylabel("runs")
        runs_axis.yaxis.set_major_locator(MaxNLocator(integer=True))
        runs_axis.set_title(f"sidekick runs per day since {stats['since'][:10]}")
        rate_axis = runs_axis.twinx()
        rates = [d["successRate"] * 100 if d["successRate"] is not None else float("nan") for d in days]
        rate_axis.plot(labels, rates, color="#2b7a3d", marker="o", label="success rate")
        rate_axis.set_ylim(0, 105)
        rate_axis.set_ylabel("success rate (%)")
        if len(labels) > 14:
            runs_axis.set_xticks(labels[:: max(1, len(labels) // 14)])
        figure.legend(loc="upper left", bbox_to_anchor=(0.08, 0.88), fontsize="small")
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
