"""The harness as host: request ids kept apart, and each host/callTool answered from its own run's world."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from sidekick.evals.host import HostPool, SidekickChild
from sidekick.evals.suite import ToolResult

FAKE = [sys.executable, str(Path(__file__).with_name("fake_sidekick.py"))]
DEADLINE_S = 20


class LabelledEnvironment:
    def __init__(self, label: str) -> None:
        self.label = label
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        self.calls.append((name, arguments))
        return ToolResult(f"{self.label}:{arguments['key']}")

    def state(self) -> Any:
        return self.calls


async def test_tagged_host_calls_share_one_process_and_reach_their_own_run() -> None:
    pool = await HostPool.start(2, [*FAKE, "--tag", "--runs", "2"])
    try:
        assert len(pool.children) == 1 and pool.children[0].tags_host_calls
        first, second = LabelledEnvironment("A"), LabelledEnvironment("B")
        results = await asyncio.wait_for(asyncio.gather(
            pool.run({"task": "k1"}, first), pool.run({"task": "k2"}, second)), DEADLINE_S)
    finally:
        await pool.close()
    assert [r["text"] for r in results] == ["A:k1", "B:k2"]
    assert first.calls == [("lookup", {"key": "k1"})] and second.calls == [("lookup", {"key": "k2"})]


async def test_untagged_calls_with_two_runs_in_flight_are_refused_not_misrouted() -> None:
    child = await SidekickChild.start([*FAKE, "--runs", "2"])
    try:
        first, second = LabelledEnvironment("A"), LabelledEnvironment("B")
        results = await asyncio.wait_for(asyncio.gather(
            child.run({"task": "k1"}, first), child.run({"task": "k2"}, second)), DEADLINE_S)
    finally:
        await child.close()
    assert all("cannot tell which run" in r["text"] for r in results)
    assert first.calls == second.calls == []


async def test_a_call_tagged_with_an_unknown_run_is_refused_even_with_one_run_in_flight() -> None:
    child = await SidekickChild.start([*FAKE, "--tag", "--stale", "--runs", "1"])
    try:
        only = LabelledEnvironment("A")
        result = await asyncio.wait_for(child.run({"task": "k1"}, only), DEADLINE_S)
    finally:
        await child.close()
    assert "cannot tell which run" in result["text"] and only.calls == []


async def test_untagged_sidekick_gets_one_process_per_concurrent_run() -> None:
    pool = await HostPool.start(3, [*FAKE, "--runs", "1"])
    try:
        assert len(pool.children) == 3
        envs = [LabelledEnvironment(label) for label in "ABCDEF"]
        results = await asyncio.wait_for(asyncio.gather(
            *(pool.run({"task": f"k{i}"}, env) for i, env in enumerate(envs))), DEADLINE_S)
    finally:
        await pool.close()
    assert [r["text"] for r in results] == [f"{env.label}:k{i}" for i, env in enumerate(envs)]
    assert all(child.proc.returncode == 0 for child in pool.children)


async def test_the_real_sidekick_initializes_and_closes_cleanly() -> None:
    pool = await HostPool.start(2)
    await pool.close()
    assert pool.children[0].tags_host_calls and len(pool.children) == 1
    assert all(child.proc.returncode == 0 for child in pool.children)
