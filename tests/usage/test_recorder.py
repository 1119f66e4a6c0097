"""Runs recorded as they happen: build_run adds the recorder, whose rows reach a real SQLite file from the writer
thread; what is kept (no text unless asked), what a cancelled run leaves, and that a broken store costs one
warning and never a run's answer."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from sidekick.agent.toolbox import Toolbox
from sidekick.run_protocol import RunParams
from sidekick.runs import build_run
from sidekick.runs.observed import ObservedModel
from sidekick.testing.scripted_server import ScriptedOpenAIServer, tool_results
from sidekick.tools import Tool, build_registry
from sidekick.usage import store
from tests.usage.support import flush, rows

pytestmark = pytest.mark.usefixtures("closed_clients")


class WeatherArgs(BaseModel):
    city: str


class Weather(Tool):  # defined outside the sidekick package: the usage store calls its source "plugin"
    name = "weather"
    description = "Today's weather in a city"
    Args = WeatherArgs

    def run(self, args: WeatherArgs) -> str:
        return f"sunny in {args.city}"


def registry() -> Any:
    tools = build_registry(load_plugins=False)
    tools.add(Weather())
    return tools


def three_calls_then_answer(body: dict[str, Any]) -> dict[str, Any]:
    if not tool_results(body):
        return {"tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}},
                               {"name": "calculate", "arguments": {"expression": "1/"}},
                               {"name": "weather", "arguments": {"city": "Oslo"}}]}
    return {"content": "42, and sunny"}


def params(server: ScriptedOpenAIServer, **extra: Any) -> RunParams:
    return RunParams.model_validate({"task": "secret task text", "model": {"baseUrl": server.base_url, "model": "m",
                                                                           "apiKey": "k"}, **extra})


async def test_a_run_and_each_tool_call_become_rows_without_any_text(usage_db: Path) -> None:
    with ScriptedOpenAIServer(three_calls_then_answer) as server:
        run = build_run(params(server, context={"category": "finance"}), registry(), client="eliza")
        result = await run.execute()
    assert result.stop_reason == "done"
    flush()
    assert rows(usage_db, "SELECT framework, model, provider, stop_reason, error_kind, steps, model_turns, "
                          "prompt_tokens, completion_tokens, total_tokens, client, category, task, answer FROM runs") == [
        ("native", "m", "openai", "done", None, 3, 2, 20, 10, 30, "eliza", "finance", None, None)]
    calls = rows(usage_db, "SELECT tool, source, ok, error_class, arguments, result FROM tool_calls ORDER BY tool, ok")
    assert calls == [("calculate", "builtin", 0, "tool_error", None, None), ("calculate", "builtin", 1, None, None, None),
                     ("weather", "plugin", 1, None, None, None)]
    duration, tool_ms = rows(usage_db, "SELECT r.duration_ms, t.duration_ms FROM runs r JOIN tool_calls t")[0]
    assert duration > 0 and tool_ms >= 0
    assert "secret task text" not in usage_db.read_bytes().decode("latin-1")


async def test_content_is_kept_only_when_asked(usage_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIDEKICK_USAGE_CONTENT", "1")
    with ScriptedOpenAIServer(three_calls_then_answer) as server:
        await build_run(params(server, _meta={"category": "  weather  "}), registry()).execute()
    flush()
    assert rows(usage_db, "SELECT task, answer, category FROM runs") == [("secret task text", "42, and sunny", "weather")]
    assert ('{"city": "Oslo"}', "sunny in Oslo") in rows(usage_db, "SELECT arguments, result FROM tool_calls")


async def test_a_cancelled_run_is_recorded_with_what_it_used(usage_db: Path) -> None:
    asked = threading.Event()

    def script(body: dict[str, Any]) -> dict[str, Any]:
        if not tool_results(body):
            return {"tool_calls": [{"name": "calculate", "arguments": {"expression": "2+2"}}]}
        asked.set()
        return {"hang": 30}

    with ScriptedOpenAIServer(script) as server:
        task = asyncio.ensure_future(build_run(params(server), registry()).execute())
        assert await asyncio.to_thread(asked.wait, 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    flush()
    assert rows(usage_db, "SELECT stop_reason, steps, model_turns, total_tokens FROM runs") == [("cancelled", 1, 2, 15)]


async def test_writes_happen_on_the_writer_thread(usage_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    write = store.UsageStore.write

    def spy(self: store.UsageStore, runs: Any) -> None:
        threads.append(threading.current_thread().name)
        write(self, runs)

    monkeypatch.setattr(store.UsageStore, "write", spy)
    with ScriptedOpenAIServer([{"content": "hi"}]) as server:
        await build_run(params(server), registry()).execute()
    flush()
    assert threads == ["sidekick-usage"]


async def test_an_unwritable_store_costs_one_warning_and_never_an_answer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, usage_db: Path) -> None:
    (tmp_path / "blocked").write_text("a file where the state directory should be")
    monkeypatch.setenv("SIDEKICK_USAGE_DB", str(tmp_path / "blocked" / "usage.db"))
    with ScriptedOpenAIServer([{"content": "one"}, {"content": "two"}]) as server, \
            caplog.at_level(logging.WARNING, "sidekick.usage"):
        first = await build_run(params(server), registry()).execute()
        flush()
        second = await build_run(params(server), registry()).execute()
        flush()
    assert (first.text, second.text) == ("one", "two")
    assert len([r for r in caplog.records if r.name == "sidekick.usage"]) == 1


async def test_a_locked_store_keeps_the_rows_until_it_is_free(usage_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from sidekick.usage import recorder

    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 20)
    monkeypatch.setattr(recorder, "EXIT_FLUSH_S", 0.1)
    with ScriptedOpenAIServer([{"content": "one"}, {"content": "two"}]) as server:
        await build_run(params(server), registry()).execute()
        flush()
        holder = sqlite3.connect(usage_db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        answer = await build_run(params(server), registry()).execute()
        flush()  # the write met the lock: the row stays pending
        assert answer.text == "two" and rows(usage_db, "SELECT count(*) FROM runs") == [(1,)]
        holder.execute("ROLLBACK")
        holder.close()
        flush()
    assert rows(usage_db, "SELECT count(*) FROM runs") == [(2,)]


def test_with_usage_off_a_run_is_built_exactly_as_before(usage_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIDEKICK_USAGE", "off")
    run = build_run(RunParams.model_validate({"task": "x", "model": {"baseUrl": "http://127.0.0.1:9/v1", "model": "m"}}),
                    registry())
    assert type(run.toolbox) is Toolbox and not isinstance(run.model, ObservedModel)
    assert not usage_db.exists()
