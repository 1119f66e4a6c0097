"""End to end: a real `sidekick --stdio`, the real openai client, and scripted models over loopback HTTP."""

from __future__ import annotations

import json
import sys

import pytest

from sidekick.evals import suite as suite_module
from sidekick.frameworks.upfront import UPFRONT_NOTE
from sidekick.evals.runner import EvalAborted, EvalConfig, run_eval, summarise
from sidekick.evals.scripted import expected_failures
from sidekick.evals.shop import ShopSuite
from sidekick.evals.suite import load_suite
from tests.evals.suite_checks import CORRECTION_OPENINGS, corrections_sent, evaluate, failed

SHOP = ShopSuite()
RESULT_ONLY_MARKERS = ("unit_price", "credit_balance", "ship_to", "temporarily unavailable", "Error:")


async def test_the_oracle_scores_100_percent_through_the_loop() -> None:
    result, server = await evaluate(SHOP, "oracle", concurrency=4)
    summary = summarise(SHOP, result["tasks"], result["runs"], 1)["sidekick"]
    assert summary["passRate"] == 1.0 and summary["failedTasks"] == []
    runs = {r["task"]: r for r in result["runs"]["sidekick"]}
    assert len(runs) == len(SHOP.tasks())
    assert all(r["stopReason"] == "done" and r["error"] is None for r in runs.values())
    assert runs["parallel-prices"]["toolCalls"] == 3 and runs["no-tool-goodbye"]["toolCalls"] == 0
    assert runs["recovery-retry"]["toolCalls"] == 2
    # the loop's host tools arrived as the suite's specs, and no built-in tool unless the task asked for one
    first_turns = [body for body in server.requests if not any(m["role"] == "tool" for m in body["messages"])]
    offered = {tuple(sorted(t["function"]["name"] for t in body["tools"])) for body in first_turns}
    shop_tools = tuple(sorted(s["name"] for s in SHOP.tool_specs(SHOP.tasks()[0])))
    assert offered == {shop_tools, tuple(sorted((*shop_tools, "calculate")))}


async def test_the_faulty_model_fails_exactly_the_tasks_that_place_orders() -> None:
    result, _ = await evaluate(SHOP, "faulty", trials=2, concurrency=3)
    expected = expected_failures(SHOP, "faulty")
    assert 5 <= len(expected) < len(SHOP.tasks()) / 2
    assert failed(result, "sidekick") == expected
    summary = summarise(SHOP, result["tasks"], result["runs"], 2)["sidekick"]
    assert summary["passHatK"] == {"1": summary["passRate"], "2": summary["passRate"]}
    assert summary["passRate"] == pytest.approx(1 - len(expected) / len(SHOP.tasks()))
    wrong = [r for r in result["runs"]["sidekick"] if r["task"] in expected]
    assert len(wrong) == 2 * len(expected) and not any(r["dbMatch"] for r in wrong)


async def test_the_upfront_baseline_never_shows_the_model_a_result() -> None:
    result, server = await evaluate(SHOP, "oracle", baseline="upfront", concurrency=4)
    baseline_bodies = [b for b in server.requests if UPFRONT_NOTE in b["messages"][0]["content"]]
    loop_bodies = [b for b in server.requests if UPFRONT_NOTE not in b["messages"][0]["content"]]
    tasks_with_calls = [t for t in SHOP.tasks() if t.actions]
    assert len(baseline_bodies) == len(SHOP.tasks()) + len(tasks_with_calls)  # pick, then answer
    for body in baseline_bodies:
        text = json.dumps(body["messages"])
        assert all(m["role"] in ("system", "user", "assistant") for m in body["messages"])
        assert not any(marker in text for marker in RESULT_ONLY_MARKERS), text
    answers = [b for b in baseline_bodies if "tools" not in b]
    assert len(answers) == len(tasks_with_calls)
    assert all("Actions: " in b["messages"][2]["content"] for b in answers)
    assert any(marker in json.dumps(b["messages"]) for b in loop_bodies for marker in RESULT_ONLY_MARKERS)
    # an oracle without results passes only what needs neither a second step nor a fact from a result
    should_pass = {t.id for t in SHOP.tasks() if not t.actions or (len(t.actions) == 1 and not t.outputs)}
    assert {t.id for t in SHOP.tasks()} - failed(result, "upfront") == should_pass
    assert failed(result, "sidekick") == set()
    upfront = {r["task"]: r for r in result["runs"]["upfront"]}
    assert upfront["single-cancel"]["dbMatch"] and upfront["single-cancel"]["missingOutputs"] == ["165"]
    assert upfront["parallel-cancel-two"]["dbMatch"] and upfront["parallel-cancel-two"]["toolCalls"] == 2
    assert not upfront["recovery-out-of-stock"]["dbMatch"]


async def test_a_plugged_in_suite_runs_without_runner_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(suite_module.BUILTIN_SUITES, "tiny", "tests.evals.tiny_suite:TinySuite")
    tiny = load_suite("tiny")
    result, _ = await evaluate(tiny, "oracle", baseline="upfront", concurrency=2)
    assert failed(result, "sidekick") == set()
    assert failed(result, "upfront") == {"read-pears", "add-apple"}
    assert [r["toolCalls"] for r in result["runs"]["sidekick"]] == [1, 2]


async def test_a_sidekick_that_does_not_start_aborts_the_eval_with_its_stderr() -> None:
    crash = [sys.executable, "-c", "import sys; sys.stderr.write('no module named x\\n'); sys.exit(3)"]
    config = EvalConfig(base_url="http://127.0.0.1:9/v1", model="m", api_key="k", sidekick_command=crash)
    with pytest.raises(EvalAborted, match=r"(?s)did not start: the sidekick exited \(code 3\).*no module named x"):
        await run_eval(SHOP, config)


async def test_the_textual_oracle_writing_calls_as_a_real_model_does_scores_100_percent_through_the_loop() -> None:
    result, server = await evaluate(SHOP, "textual", concurrency=4, baseline="upfront")
    summary = summarise(SHOP, result["tasks"], result["runs"], 1)
    assert summary["sidekick"]["passRate"] == 1.0, summary["sidekick"]["failedTasks"]
    assert all(r["stopReason"] == "done" for r in result["runs"]["sidekick"])
    assert corrections_sent(server) == set(CORRECTION_OPENINGS)
    assert summary["upfront"]["passRate"] < 0.5
