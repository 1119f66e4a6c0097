"""Real `sidekick --stdio` processes recording into one real database, read back by `sidekick stats --json`:
a mixed session's counts come out exactly, and two processes running 50 runs at once lose no row."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from sidekick.testing.scripted_server import ScriptedOpenAIServer, tool_results
from tests.support.process import SidekickProcess
from tests.usage.support import rows

LOOKUP = {"name": "lookup", "description": "Look a thing up in the host's records",
          "inputSchema": {"type": "object", "properties": {"key": {"type": "string"}}}}


def task_of(body: dict[str, Any]) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def stats(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sidekick", "stats", *args, "--db", str(db)], capture_output=True,
                          text=True, timeout=60)


def test_a_mixed_session_is_reported_with_exactly_its_counts(tmp_path: Path) -> None:
    db = tmp_path / "usage.db"
    waiting = threading.Event()

    def script(body: dict[str, Any]) -> dict[str, Any]:
        task, results = task_of(body), tool_results(body)
        if task == "auth":
            return {"status": 401, "error": "invalid api key"}
        if task == "bad request":
            return {"status": 400, "error": "unsupported parameter"}
        if task == "hang":
            waiting.set()
            return {"hang": 60}
        if task == "loop":
            return {"tool_calls": [{"name": "calculate", "arguments": {"expression": "1+1"}}]}
        if task == "calculate":
            return {"content": "4"} if results else {"tool_calls": [
                {"name": "calculate", "arguments": {"expression": "2+2"}}]}
        if task == "tool error":
            return {"content": "cannot"} if results else {"tool_calls": [
                {"name": "calculate", "arguments": {"expression": "2+"}}]}
        if task == "host":
            return {"content": "looked up"} if len(results) == 2 else {"tool_calls": [
                {"name": "lookup", "arguments": {"key": "a"}, "id": "h1"},
                {"name": "lookup", "arguments": {"key": "b"}, "id": "h2"}]}
        return {"content": "plain answer"}

    with ScriptedOpenAIServer(script) as server:
        process = SidekickProcess(env={"SIDEKICK_USAGE_DB": str(db), "SIDEKICK_BASE_URL": server.base_url,
                                       "SIDEKICK_MODEL": "scripted-model", "SIDEKICK_API_KEY": "k"})
        try:
            process.initialize()
            stops = {}
            for n, task in enumerate(["calculate", "tool error", "auth", "bad request", "plain", "loop"]):
                extra = {"maxSteps": 1} if task == "loop" else {}
                answer = process.request(n, "sidekick/run", {"task": task, "_meta": {"category": "mixed"}, **extra})
                stops[task] = answer["result"]["stopReason"]
            assert stops == {"calculate": "done", "tool error": "done", "auth": "error", "bad request": "error",
                             "plain": "done", "loop": "max_steps"}

            process.send({"jsonrpc": "2.0", "id": "host-run", "method": "sidekick/run",
                          "params": {"task": "host", "hostTools": [LOOKUP]}})
            for _ in range(2):
                call, _ = process.read_until(lambda m: m.get("method") == "host/callTool")
                failed = call["params"]["arguments"]["key"] == "b"
                process.send({"jsonrpc": "2.0", "id": call["id"], "result": {
                    "content": [{"type": "text", "text": "no such key" if failed else "found"}], "isError": failed}})
            host, _ = process.read_until(lambda m: m.get("id") == "host-run")
            assert host["result"]["stopReason"] == "done"

            process.send({"jsonrpc": "2.0", "id": "doomed", "method": "sidekick/run", "params": {"task": "hang"}})
            assert waiting.wait(30)
            process.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "doomed"}})
            assert process.request("after", "ping")["result"] == {}
        finally:
            assert process.close() == 0

    done = stats(db, "--json", "--since", "1d")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["runs"]["total"] == 8 and report["runs"]["succeeded"] == 4
    assert report["runs"]["byStopReason"] == {"done": 4, "error": 2, "timeout": 0, "max_steps": 1,
                                              "token_budget": 0, "cancelled": 1}
    assert report["runs"]["successRate"] == round(4 / 7, 4)
    tools = {(t["name"], t["source"]): (t["calls"], t["errors"]) for t in report["tools"]}
    assert tools == {("calculate", "builtin"): (3, 1), ("lookup", "host"): (2, 1)}
    assert all(t["p50Ms"] is not None and t["p95Ms"] >= t["p50Ms"] for t in report["tools"])
    assert sorted((f["kind"], f["count"]) for f in report["failureModes"]) == [
        ("auth", 1), ("bad_request", 1), ("host_error", 1), ("tool_error", 1)]
    assert {(c["category"], c["runs"]) for c in report["byCategory"]} == {("mixed", 6), (None, 2)}
    assert [(c["client"], c["runs"]) for c in report["byClient"]] == [("tests", 8)]
    assert report["byFramework"] == [{"framework": "native", "runs": 8, "succeeded": 4, "successRate": round(4 / 7, 4)}]
    assert sum(d["runs"] for d in report["byDay"]) == 8
    assert report["tokens"]["total"] == sum(r[0] for r in rows(db, "SELECT total_tokens FROM runs")) > 0

    text = stats(db)
    assert text.returncode == 0 and "Runs: 8, success rate 57%" in text.stdout and "lookup" in text.stdout


def test_fifty_runs_at_once_from_two_processes_lose_no_row(tmp_path: Path) -> None:
    db = tmp_path / "usage.db"

    def script(body: dict[str, Any]) -> dict[str, Any]:
        if tool_results(body):
            return {"content": "done"}
        return {"tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}}]}

    with ScriptedOpenAIServer(script) as server:
        env = {"SIDEKICK_USAGE_DB": str(db), "SIDEKICK_BASE_URL": server.base_url, "SIDEKICK_MODEL": "m",
               "SIDEKICK_API_KEY": "k"}
        processes = [SidekickProcess(env=env), SidekickProcess(env=env)]
        try:
            for process in processes:
                process.initialize()
            for process in processes:  # all 50 in flight before any answer is read
                for n in range(25):
                    process.send({"jsonrpc": "2.0", "id": n, "method": "sidekick/run", "params": {"task": f"run {n}"}})
            for process in processes:
                answers = [process.read_until(lambda m: "id" in m and "result" in m, timeout=60)[0] for _ in range(25)]
                assert sorted(a["id"] for a in answers) == list(range(25))
                assert all(a["result"]["stopReason"] == "done" for a in answers)
        finally:
            codes = [process.close() for process in processes]
    assert codes == [0, 0]
    assert rows(db, "SELECT count(*), count(DISTINCT task IS NULL) FROM runs") == [(50, 1)]
    assert rows(db, "SELECT count(*) FROM tool_calls") == [(50,)]
    report = json.loads(stats(db, "--json").stdout)
    assert report["runs"]["byStopReason"]["done"] == 50 and report["tools"][0]["calls"] == 50
