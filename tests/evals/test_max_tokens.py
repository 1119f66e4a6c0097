"""`sidekick eval --max-tokens`: the same per-turn cap for the loop's runs and the upfront baseline."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidekick.frameworks.upfront import UPFRONT_NOTE
from sidekick.evals.cli import build_parser, main
from sidekick.evals.runner import EvalConfig, run_eval
from sidekick.evals.scripted import model_script
from sidekick.evals.shop import ShopSuite
from sidekick.testing.scripted_server import ScriptedOpenAIServer

SHOP = ShopSuite()


async def test_the_cap_reaches_the_loop_and_the_baseline() -> None:
    tasks = [t.id for t in SHOP.tasks()[:2]]
    with ScriptedOpenAIServer(model_script(SHOP, "oracle")) as server:
        config = EvalConfig(base_url=server.base_url, model="scripted-oracle", api_key="not-needed",
                            baseline="upfront", task_ids=tasks, max_tokens=64)
        await run_eval(SHOP, config)
    baseline = [b for b in server.requests if UPFRONT_NOTE in b["messages"][0]["content"]]
    assert baseline and len(baseline) < len(server.requests)
    assert {body.get("max_tokens") for body in server.requests} == {64}


def test_a_bad_cap_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    parse = build_parser().parse_args
    assert main(parse(["--model-script", "oracle", "--max-tokens", "0", "--out", str(tmp_path)])) == 2
    assert "--max-tokens must be at least 1" in capsys.readouterr().err
    monkeypatch.setenv("SIDEKICK_MAX_TOKENS", "-3")  # configuration, not the command line: 4, as in `sidekick run`
    assert main(parse(["--model-script", "oracle", "--out", str(tmp_path)])) == 4
    assert "SIDEKICK_MAX_TOKENS must be a whole number" in capsys.readouterr().err
