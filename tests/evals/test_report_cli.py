"""`sidekick eval` from the command line: the summary, the report files, the chart, and its failures."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sidekick.evals.cli import build_parser, main
from sidekick.evals.progress import ProgressBar
from sidekick.evals.scripted import expected_failures
from sidekick.evals.shop import ShopSuite

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_cli(*argv: str) -> int:
    return main(build_parser().parse_args(list(argv)))


def test_the_oracle_prints_100_percent_and_writes_the_report(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--model-script", "oracle", "--baseline", "upfront", "--out", str(tmp_path)) == 0
    out, err = capsys.readouterr()
    overall = next(line.split() for line in out.splitlines() if line.split()[:1] == ["all"])
    assert overall[1] == "100.0%" and overall[2] != "100.0%"  # the loop's column, then the baseline's
    assert "eval [" in err and "68/68" in err
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["modes"] == ["sidekick", "upfront"] and report["summary"]["sidekick"]["passRate"] == 1.0
    assert report["summary"]["upfront"]["passRate"] < 0.5
    assert set(report["summary"]["sidekick"]["byCategory"]) == set(ShopSuite.categories)
    assert report["endpoint"]["models"] == ["scripted-oracle"] and report["endpoint"]["server"]
    assert report["settings"]["maxTokens"] == 1024 and report["settings"]["maxSteps"] == 20
    markdown = (tmp_path / "report.md").read_text()
    assert "| **all** | 34 | 100.0% |" in markdown and "![pass rate by category](chart.png)" in markdown
    assert "Endpoint: server `" in markdown and "models listed: `scripted-oracle`" in markdown
    assert "Settings: temperature None, maxTokens 1024" in markdown
    assert "| Category | Tasks | Sidekick loop | Upfront baseline | Difference |" in markdown
    png = (tmp_path / "chart.png").read_bytes()
    assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000


def test_the_faulty_model_reports_its_expected_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chosen = ["single-price", "multi-reorder", "recovery-promo", "no-tool-goodbye"]
    assert run_cli("--model-script", "faulty", "--tasks", ",".join(chosen[:2]), "--tasks", ",".join(chosen[2:]),
                   "--trials", "2", "--out", str(tmp_path)) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    expected = sorted(expected_failures(ShopSuite(), "faulty") & set(chosen))
    assert expected == ["multi-reorder", "recovery-promo"]
    assert report["summary"]["sidekick"]["failedTasks"] == expected
    assert report["summary"]["sidekick"]["passHatK"] == {"1": 0.5, "2": 0.5}
    markdown = (tmp_path / "report.md").read_text()
    assert "| multi-reorder | 2 | final database differs from the gold one |" in markdown
    assert (tmp_path / "chart.png").read_bytes().startswith(PNG_SIGNATURE)
    assert "50.0%" in capsys.readouterr().out


def test_bad_options_exit_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--model-script", "oracle", "--tasks", "no-such-task", "--out", str(tmp_path)) == 2
    assert "unknown task id(s) no-such-task" in capsys.readouterr().err
    assert run_cli("--suite", "nope") == 2
    assert run_cli("--model-script", "oracle", "--trials", "0") == 2
    assert not list(tmp_path.iterdir())


def test_list_names_the_suites_and_tasks(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--list") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "suites: clinic, shop" and "recovery-flaky-search" in out


def test_an_unreachable_endpoint_aborts_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert run_cli("--base-url", f"http://127.0.0.1:{port}/v1", "--model", "m", "--api-key", "sk-secret-999",
                   "--tasks", "single-price", "--out", str(tmp_path)) == 1
    err = capsys.readouterr().err
    assert "aborted" in err and "Could not connect" in err and "sk-secret-999" not in err


def test_importing_the_cli_stays_light() -> None:
    code = ("import sys, sidekick.evals.cli; "
            "print(sorted(m for m in ('openai', 'matplotlib', 'httpx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_redraws_on_a_terminal_and_prints_tenths_elsewhere() -> None:
    terminal, log = FakeTerminal(), io.StringIO()
    for stream in (terminal, log):
        bar = ProgressBar(20, ["sidekick", "upfront"], stream=stream, width=10)
        for i in range(20):
            bar("sidekick" if i % 2 else "upfront", i % 4 != 0)
        bar.close()
    assert terminal.getvalue().count("\r") == 20 and terminal.getvalue().endswith("\n")
    assert terminal.getvalue().rsplit("\r", 1)[1] == \
        "eval [##########] 20/20  sidekick 10/10 passed  upfront 5/10 passed\n"
    assert len(log.getvalue().splitlines()) == 11


def test_any_two_frameworks_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.frameworks.plugin import require_plugin

    require_plugin()
    tasks = "single-price,multi-reorder"
    assert run_cli("--model-script", "oracle", "--framework", "handmade", "--baseline", "upfront",
                   "--tasks", tasks, "--no-chart", "--out", str(tmp_path)) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["modes"] == ["handmade", "upfront"] and report["summary"]["handmade"]["passRate"] == 1.0
    assert "| Category | Tasks | handmade framework | Upfront baseline | Difference |" in (
        tmp_path / "report.md").read_text()
    assert run_cli("--model-script", "oracle", "--framework", "upfront", "--baseline", "native", "--tasks", tasks,
                   "--no-chart", "--out", str(tmp_path)) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["modes"] == ["upfront", "sidekick"] and report["summary"]["sidekick"]["passRate"] == 1.0
    capsys.readouterr()
    assert run_cli("--model-script", "oracle", "--baseline", "native", "--out", str(tmp_path)) == 2
    assert "--baseline is --framework itself (native)" in capsys.readouterr().err
    assert run_cli("--model-script", "oracle", "--framework", "crewai", "--out", str(tmp_path)) == 2
    assert "unknown framework 'crewai'" in capsys.readouterr().err
