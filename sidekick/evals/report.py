"""The eval's report: `report.json` (everything), `report.md` (the tables) and `chart.png` (pass rate by
category, sidekick loop vs baseline). matplotlib is imported only here, and only to draw the chart."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from sidekick.evals.suite import ANSWER_PROBLEMS

LABELS = {"sidekick": "Sidekick loop", "upfront": "Upfront baseline"}
COLOURS = {"sidekick": "#2a7ab0", "upfront": "#d98c2b"}
OTHER_COLOURS = ("#3b9a5a", "#8e5ab5", "#c44e52", "#6b6b6b")


def label(mode: str) -> str:
    """How a mode is named in the report; a mode of any other framework is named after it."""
    return LABELS.get(mode, f"{mode} framework")


def colour(mode: str) -> str:
    return COLOURS.get(mode) or OTHER_COLOURS[sum(map(ord, mode)) % len(OTHER_COLOURS)]


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def failure_modes(record: dict[str, Any]) -> list[str]:
    """The failure modes of one failed run, by name: what report.md counts and ranks."""
    modes = []
    if record.get("answerProblem"):
        modes.append(ANSWER_PROBLEMS.get(record["answerProblem"], record["answerProblem"]))
    elif record.get("stopReason") == "error":
        modes.append("run error")
    elif record.get("stopReason") not in (None, "done"):
        modes.append(f"stopped: {record['stopReason']}")
    if not record["dbMatch"]:
        modes.append("wrong database")
    if record["missingOutputs"]:
        modes.append("answer lacks a required fact")
    if record["toolsForbiddenButUsed"]:
        modes.append("tool used where none was needed")
    return modes


def why_failed(record: dict[str, Any]) -> str:
    """A short reason for a failed run."""
    reasons = []
    if record.get("answerProblem"):
        reasons.append(f"answered with a {ANSWER_PROBLEMS.get(record['answerProblem'], record['answerProblem'])}")
    if record.get("error"):
        reasons.append(f"error: {record['error'][:120]}")
    if record.get("stopReason") not in (None, "done") and not record.get("error"):
        reasons.append(f"stopped: {record['stopReason']}")
    if not record["dbMatch"]:
        reasons.append("final database differs from the gold one")
    if record["missingOutputs"]:
        reasons.append("answer lacks " + ", ".join(repr(o) for o in record["missingOutputs"]))
    if record["toolsForbiddenButUsed"]:
        reasons.append(f"called {record['toolCalls']} tool(s) where none were needed")
    return "; ".join(reasons) or "?"


def _seen_and_settings(report: dict[str, Any]) -> list[str]:
    lines = []
    endpoint = report.get("endpoint") or {}
    if endpoint:
        seen = [f"server `{endpoint['server']}`" if endpoint.get("server") else "",
                f"models listed: {', '.join(f'`{m}`' for m in endpoint.get('models') or []) or 'none'}",
                f"llama.cpp {json.dumps(endpoint['llamaCpp'])}" if endpoint.get("llamaCpp") else "",
                f"not described: {endpoint['error']}" if endpoint.get("error") else ""]
        lines.append("Endpoint: " + "; ".join(part for part in seen if part) + ".")
    if report.get("settings"):
        lines.append("Settings: " + ", ".join(f"{k} {v}" for k, v in report["settings"].items()) + ".")
    return [*lines, ""] if lines else []


def markdown(report: dict[str, Any], chart_file: str | None = None) -> str:
    modes, summary = report["modes"], report["summary"]
    lines = [f"# sidekick eval: {report['suite']}", "",
             f"Model `{report['model']}` at `{report['baseUrl']}`; {len(report['tasks'])} tasks × "
             f"{report['trials']} trial(s); {report['durationS']} s.", "",
             *_seen_and_settings(report),
             "A run passes when the final database equals the gold one (sha256 of its canonical JSON) and the "
             "answer contains every required string; tasks meant to be answered without tools also fail when "
             "a tool is called.", "",
             "| Category | Tasks | " + " | ".join(label(m) for m in modes) + (" | Difference |" if len(modes) > 1
                                                                              else ""),
             "|---|---:|" + "---:|" * len(modes) + ("---:|" if len(modes) > 1 else "")]
    rows = [(c, v["tasks"], [summary[m]["byCategory"][c]["passRate"] for m in modes])
            for c, v in summary[modes[0]]["byCategory"].items()]
    rows.append(("**all**", len(report["tasks"]), [summary[m]["passRate"] for m in modes]))
    for name, count, rates in rows:
        diff = f" | {(rates[0] - rates[1]) * 100:+.1f} pts" if len(rates) > 1 else ""
        lines.append(f"| {name} | {count} | " + " | ".join(_pct(r) for r in rates) + diff + " |")
    lines += ["", "## pass^k", "", "| k | " + " | ".join(label(m) for m in modes) + " |",
              "|---:|" + "---:|" * len(modes)]
    for k in summary[modes[0]]["passHatK"]:
        lines.append(f"| {k} | " + " | ".join(_pct(summary[m]["passHatK"][k]) for m in modes) + " |")
    if chart_file:
        lines += ["", f"![pass rate by category]({chart_file})"]
    lines += ["", "## Failure modes", "",
              "A failed run can show several; \"malformed call\" and \"invented tool result\" are runs whose "
              "final answer was call-like text or a tool result the model wrote itself.", "",
              "| Failure mode | " + " | ".join(label(m) for m in modes) + " |", "|---|" + "---:|" * len(modes)]
    counts = {m: Counter(f for r in report["runs"][m] if r["reward"] != 1.0 for f in failure_modes(r))
              for m in modes}
    ranked = sorted(set().union(*counts.values()), key=lambda f: (-sum(c[f] for c in counts.values()), f))
    lines += [f"| {f} | " + " | ".join(str(counts[m][f]) for m in modes) + " |" for f in ranked] or \
             ["| none | " + " | ".join("0" for _ in modes) + " |"]
    for mode in modes:
        failed = [r for r in report["runs"][mode] if r["reward"] != 1.0]
        lines += ["", f"## Failed runs: {label(mode).lower()} ({len(failed)})", ""]
        if failed:
            lines += ["| Task | Trial | Why |", "|---|---:|---|"]
            lines += [f"| {r['task']} | {r['trial'] + 1} | {why_failed(r)} |" for r in failed]
        else:
            lines.append("None.")
    return "\n".join(lines) + "\n"


def chart(report: dict[str, Any], path: Path) -> None:
    """Grouped bars: pass rate (pass^1) per category and overall, one bar per mode."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    modes, summary = report["modes"], report["summary"]
    categories = list(summary[modes[0]]["byCategory"])
    names = [*categories, "all"]
    figure = Figure(figsize=(max(6.0, 1.3 * len(names) + 2), 4.2), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = 0.8 / len(modes)
    for index, mode in enumerate(modes):
        rates = [summary[mode]["byCategory"][c]["passRate"] * 100 for c in categories]
        rates.append(summary[mode]["passRate"] * 100)
        xs = [i + (index - (len(modes) - 1) / 2) * width for i in range(len(names))]
        bars = axes.bar(xs, rates, width, label=label(mode), color=colour(mode))
        axes.bar_label(bars, labels=[f"{r:.0f}" for r in rates], fontsize=8, padding=2)
    axes.set_xticks(range(len(names)), [n.replace("_", " ") for n in names])
    axes.set_ylim(0, 118)
    axes.set_ylabel("pass rate (%)")
    axes.set_title(f"{report['suite']}: pass rate by task category ({report['model']}, "
                   f"{report['trials']} trial{'s' if report['trials'] != 1 else ''})", fontsize=10)
    axes.legend(loc="upper center", ncols=len(modes), fontsize=8, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    figure.savefig(path)


def write_report(report: dict[str, Any], out_dir: Path, with_chart: bool = True) -> dict[str, Path]:
    """Write the report files into `out_dir` (created if needed); returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "markdown": out_dir / "report.md"}
    paths["json"].write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if with_chart:
        paths["chart"] = out_dir / "chart.png"
        chart(report, paths["chart"])
    paths["markdown"].write_text(markdown(report, "chart.png" if with_chart else None), encoding="utf-8")
    return paths
