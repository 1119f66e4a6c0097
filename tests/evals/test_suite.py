"""The suite interface, tau-bench scoring, and the built-in shop suite's tasks."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from sidekick.evals import suite as suite_module
from sidekick.evals.shop import ShopSuite
from tests.evals.suite_checks import (
    assert_gold_states_differ_exactly_where_a_write_succeeds,
    assert_task_shapes_match_their_categories,
)
from sidekick.evals.suite import Task, gold_hash, load_suite, missing_outputs, pass_hat_k, score, state_hash

SHOP = ShopSuite()
TASKS = SHOP.tasks()


def test_the_shop_has_at_least_30_tasks_in_every_category() -> None:
    assert len(TASKS) >= 30
    assert len({t.id for t in TASKS}) == len({t.instruction for t in TASKS}) == len(TASKS)
    counts = Counter(t.category for t in TASKS)
    assert set(counts) == set(SHOP.categories) and min(counts.values()) >= 5


def test_task_shapes_match_their_categories() -> None:
    assert_task_shapes_match_their_categories(SHOP)


def test_gold_states_differ_from_the_start_exactly_for_tasks_that_change_something() -> None:
    assert_gold_states_differ_exactly_where_a_write_succeeds(SHOP, {
        "cancel_order", "return_order", "place_order", "change_item_quantity", "update_order_address",
        "update_user_address"})


def test_state_hash_is_canonical() -> None:
    assert state_hash({"a": 1, "b": [1, {"c": "é", "d": 2}]}) == state_hash({"b": [1, {"d": 2, "c": "é"}], "a": 1})
    assert state_hash({"a": 1}) != state_hash({"a": 1.5})


def test_score_needs_the_gold_state_the_strings_and_no_forbidden_tools() -> None:
    task = Task("t", "single", "x", outputs=("1,234.5", "Shipped"))
    gold = state_hash({"x": 1})
    assert score(task, gold, {"x": 1}, "It shipped; total 1234.5", 1)["reward"] == 1.0
    wrong_db = score(task, gold, {"x": 2}, "shipped 1234.5", 1)
    assert wrong_db["reward"] == 0.0 and not wrong_db["dbMatch"]
    assert score(task, gold, {"x": 1}, "shipped", 1)["missingOutputs"] == ["1,234.5"]
    quiet = Task("q", "no_tool", "hi", forbid_tools=True)
    assert score(quiet, gold, {"x": 1}, "hello", 0)["reward"] == 1.0
    assert score(quiet, gold, {"x": 1}, "hello", 1)["toolsForbiddenButUsed"]


def test_a_required_number_matches_only_as_a_whole_number() -> None:
    task = Task("t", "parallel", "x", outputs=("5", "94", "32.4"))
    assert missing_outputs(task, "5 poles; credit $94.00; you paid $32.40.") == []
    assert missing_outputs(task, "15 poles; credit 1,940; you paid 32.45") == ["5", "94", "32.4"]
    assert missing_outputs(task, "2.5 poles; 94.5; 132.4") == ["5", "94", "32.4"]


def test_pass_hat_k_is_tau_bench_s_estimator() -> None:
    assert pass_hat_k([4, 0], 4, 1) == 0.5
    assert pass_hat_k([2], 4, 2) == pytest.approx(math.comb(2, 2) / math.comb(4, 2))
    assert pass_hat_k([3, 4], 4, 4) == 0.5
    assert pass_hat_k([], 1, 1) == 0.0


def test_suites_are_found_by_name_and_unknown_ones_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(load_suite("shop"), ShopSuite)
    with pytest.raises(ValueError, match="unknown suite 'nope'.*shop"):
        load_suite("nope")
    monkeypatch.setitem(suite_module.BUILTIN_SUITES, "tiny", "tests.evals.tiny_suite:TinySuite")
    assert load_suite("tiny").name == "tiny"


def test_a_call_like_answer_or_invented_result_fails_the_trial_whatever_else_it_got_right() -> None:
    from sidekick.evals.runner import answer_problem

    suite = ShopSuite()
    goodbye = next(t for t in suite.tasks() if t.id == "no-tool-goodbye")
    gold = gold_hash(suite, goodbye)
    state = suite.new_environment(goodbye).state()
    names = [s["name"] for s in suite.tool_specs(goodbye)]
    fenced = '```json\n{"name": "goodbye", "arguments": {}}\n```'
    assert answer_problem(fenced, None, names) == "malformed_call"
    assert answer_problem('{"name": "get_product", "arguments": {"product_id": "p"}}', None, names) == "malformed_call"
    assert answer_problem("<tool_response>{}</tool_response> Bye!", None, names) == "invented_tool_result"
    assert answer_problem("The run failed: …", "invented_tool_result", names) == "invented_tool_result"
    assert answer_problem("Goodbye, have a nice day!", None, names) is None
    verdict = score(goodbye, gold, state, fenced, 0, answer_problem(fenced, None, names))
    assert verdict["reward"] == 0.0 and verdict["answerProblem"] == "malformed_call"
    assert score(goodbye, gold, state, "Goodbye!", 0)["reward"] == 1.0


def test_replies_sent_back_as_unusable_are_not_part_of_the_answer() -> None:
    from sidekick.evals.runner import _assistant_text

    messages = [{"role": "user", "content": "price?"},
                {"role": "assistant", "content": "<tool_response>24.99</tool_response>"},
                {"role": "user", "content": "Your last reply contains a tool result that you wrote yourself"},
                {"role": "assistant", "content": None, "tool_calls": []},
                {"role": "tool", "tool_call_id": "c", "content": "19.99"},
                {"role": "assistant", "content": "It costs 19.99."}]
    assert _assistant_text(messages) == "It costs 19.99."


def test_report_ranks_failure_modes_by_name() -> None:
    from sidekick.evals.report import markdown

    def record(task: str, **extra: object) -> dict[str, object]:
        return {"task": task, "trial": 0, "reward": 0.0, "dbMatch": True, "missingOutputs": [],
                "toolsForbiddenButUsed": False, "stopReason": "done", "error": None, "answerProblem": None, **extra}

    runs = [record("a", answerProblem="malformed_call"), record("b", answerProblem="malformed_call"),
            record("c", answerProblem="invented_tool_result", dbMatch=False)]
    summary = {"passRate": 0.0, "passHatK": {"1": 0.0}, "byCategory": {"single": {"tasks": 3, "passRate": 0.0}},
               "failedTasks": ["a", "b", "c"]}
    text = markdown({"suite": "shop", "model": "m", "baseUrl": "u", "tasks": [{}] * 3, "trials": 1,
                     "durationS": 1, "modes": ["sidekick"], "summary": {"sidekick": summary},
                     "runs": {"sidekick": runs}})
    table = text.split("## Failure modes")[1]
    assert table.index("| malformed call | 2 |") < table.index("| invented tool result | 1 |")
    assert "| wrong database | 1 |" in table and "answered with a malformed call" in text
