"""`native` is the loop: its own progress words reach the hooks, and nothing else of the loop changes."""

from __future__ import annotations

from sidekick.run_protocol import RunParams
from sidekick.frameworks.native import NativeFramework
from sidekick.hooks import HookSet
from sidekick.runs.progress import ProgressHooks
from tests.agent.scripted_model import ScriptedModel, answer, calls
from tests.agent.test_loop import toolbox


async def test_the_loops_words_are_the_progress() -> None:
    said: list[tuple[int, str]] = []
    model = ScriptedModel(calls(("add", {"a": 1, "b": 2})), answer("3"))
    hooks = HookSet("r", [ProgressHooks(lambda n, m: said.append((n, m)))])
    result = await NativeFramework().run(RunParams(task="1+2?"), toolbox(), model, hooks)
    model.assert_used_up()
    assert result.text == "3" and said == [(1, "model asked for add"), (2, "add → ok: 3"), (3, "model answered")]


async def test_without_listeners_the_loop_runs_as_it_always_did() -> None:
    model = ScriptedModel(answer("hi"))
    result = await NativeFramework().run(RunParams(task="hello"), toolbox(), model, HookSet("r"))
    assert result.text == "hi" and result.stop_reason == "done"
