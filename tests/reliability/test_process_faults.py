"""The process around the sidekick fails: it ends with work in flight, its parent is killed, nobody reads
its stderr. Every request still gets its answer, the child never outlives a dead parent for long, and
logging never holds up serving."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from typing import Any, Iterator

import pytest

from sidekick.testing.scripted_server import ScriptedOpenAIServer, tool_results
from tests.reliability.support import HERMETIC_ENV, INITIALIZE, drain_messages, spawn_raw, strict_process, wait_for

DEADLINE_S = 20.0


@pytest.fixture
def hanging_model() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer(lambda body: {"hang": 600}) as server:
        yield server


def run_request(request_id: Any, model: ScriptedOpenAIServer, task: str = "go") -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": "sidekick/run", "params": {
        "task": task, "tools": [], "model": {"baseUrl": model.base_url, "model": "m", "apiKey": "sk-process-faults",
                                             "maxRetries": 0}}}


@pytest.mark.parametrize("ending", ["stdin EOF", "SIGTERM"])
def test_a_batch_with_a_run_in_flight_is_answered_in_full_when_the_process_ends(
        hanging_model: ScriptedOpenAIServer, ending: str) -> None:
    process = strict_process("--shutdown-grace", "0.2")
    try:
        process.initialize()
        process.send([{"jsonrpc": "2.0", "id": "quick", "method": "ping"}, run_request("run", hanging_model)])
        wait_for(lambda: hanging_model.calls == 1, DEADLINE_S, "the run's model call")
        if ending == "SIGTERM":
            process.proc.send_signal(signal.SIGTERM)
        else:
            process.proc.stdin.close()
        batch = drain_messages(process, lambda m: isinstance(m, list))[-1]
    finally:
        assert process.close() == 0
    answers = {m["id"]: m for m in batch}
    assert answers["quick"] == {"jsonrpc": "2.0", "id": "quick", "result": {}}
    assert answers["run"]["error"]["code"] == -32002 and len(batch) == 2


PARENT = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-m", "sidekick", "--stdio", "--shutdown-grace", "600"],
                         stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
print(child.pid, file=sys.stderr, flush=True)
for line in sys.stdin.buffer:
    child.stdin.write(line)
    child.stdin.flush()
"""


def exited(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie has exited: only reaping is left
    except FileNotFoundError:
        return True


def test_a_child_orphaned_with_a_run_in_flight_exits_without_waiting_out_the_grace(
        hanging_model: ScriptedOpenAIServer) -> None:
    """The parent (as a Node host would be) is killed; the child's stdin closes and it is reparented. With a
    600 s grace, only seeing that the parent is gone lets it exit within the test's deadline."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env={**os.environ, **HERMETIC_ENV})
    try:
        child_pid = int(parent.stderr.readline())
        for message in ({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INITIALIZE},
                        run_request(1, hanging_model)):
            parent.stdin.write(json.dumps(message).encode() + b"\n")
            parent.stdin.flush()
        assert json.loads(parent.stdout.readline())["id"] == 0
        wait_for(lambda: hanging_model.calls == 1, DEADLINE_S, "the run's model call")
        parent.kill()
        parent.wait(DEADLINE_S)
        wait_for(lambda: exited(child_pid), DEADLINE_S, "the orphaned child to exit")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if not exited(child_pid):
            os.kill(child_pid, signal.SIGKILL)
        for stream in (parent.stdin, parent.stdout, parent.stderr):
            stream.close()


def calculate_then_answer(body: dict[str, Any]) -> dict[str, Any]:
    if not tool_results(body):
        return {"tool_calls": [{"name": "calculate", "arguments": {"expression": "6*7"}}]}
    return {"content": "done"}


def test_a_host_that_never_reads_stderr_gets_every_answer() -> None:
    runs = 40  # at debug each logs ~3 KB (HTTP library lines, mostly): twice what a pipe holds
    with ScriptedOpenAIServer(calculate_then_answer) as model:
        proc = spawn_raw("--log-level", "debug")  # stderr is a pipe nobody reads until the end
        answers: queue.Queue[Any] = queue.Queue()
        reader = threading.Thread(target=lambda: [answers.put(json.loads(line)) for line in proc.stdout], daemon=True)
        reader.start()
        stderr: list[bytes] = []
        try:
            requests = b"".join(json.dumps({**run_request(i, model), "params": {
                **run_request(i, model)["params"], "tools": ["calculate"]}}).encode() + b"\n" for i in range(runs))
            writer = threading.Thread(target=proc.stdin.write, args=(requests,), daemon=True)  # may block
            writer.start()
            answered = set()
            while len(answered) < runs:
                try:
                    message = answers.get(timeout=DEADLINE_S * 3)
                except queue.Empty:
                    raise AssertionError(f"{len(answered)} of {runs} runs answered while stderr was not read")
                assert message["result"]["text"] == "done", message
                answered.add(message["id"])
            drainer = threading.Thread(target=lambda: stderr.extend(proc.stderr), daemon=True)
            drainer.start()
            writer.join(DEADLINE_S)
            proc.stdin.close()
            assert proc.wait(DEADLINE_S) == 0
            drainer.join(DEADLINE_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()
    assert b"DEBUG" in b"".join(stderr)  # dropping lines and counting them: tests/test_stderr_log.py
